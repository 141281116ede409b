package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// streams are a command's standard input, output and error.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// command is one subcommand. run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv is what every command gets: its streams, the environment and a
// logger writing to standard error.
type cmdEnv struct {
	streams
	getenv func(string) string
	logger *slog.Logger
}

// exitError carries an exit code without a message of its own.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a command-line mistake; the usage follows the message.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func commands() []command {
	return []command{
		{"serve", "run everything in one process: queue, workers, API (embedded defaults, or real services by flag)", runServe},
		{"worker", "handle sweep tasks from a shared Redis", runWorker},
		{"scheduler", "start the targets' sweeps on their schedules, on a shared Redis (serve runs one too)", runScheduler},
		{"api", "run the HTTP API alone, against a shared Redis, catalog and evidence store", runAPI},
		{"demo-site", "serve the bundled demo marketplace (--truth prints the listings a correct sweep flags)", runDemoSite},
		{"sweep", "sweep run TARGET.yaml | start NAME | status ID | list", runSweep},
		{"targets", "targets apply FILE... | list [--json] | schedule NAME (--cron EXPR | --every 6h | --off) [--window 22:00-06:00 --tz ZONE]", runTargets},
		{"flags", "flags list [filters] | show ID", runFlags},
		{"review", "review FLAG_ID --decision confirmed|dismissed|review [--note TEXT]", runReview},
		{"capture", "capture show|warc|manifest|screenshot|dom|compare ID [-o FILE]", runCapture},
		{"listing", "listing history URL | list [filters]: a listing's captures over time, removals", runListing},
		{"rules", "rules apply FILE [--activate] | list | show REF | activate NAME@V | diff A B | backtest --rules FILE | stats", runRules},
		{"match", "match listings (JSON Lines) against a rule set", runMatch},
		{"export", "export (--sweep ID | --flag ID...) --out CASE.wacz: a signed case bundle (WACZ) with a report", runExport},
		{"verify", "verify captures' digests and signatures", runVerify},
		{"custody", "custody verify | list [--object KEY]: the evidence access log (chain of custody)", runCustody},
		{"link", "link create (--capture ID [--object warc] | --key KEY) [--expires 24h]: a share link to one evidence object", runLink},
		{"keys", "print the deployment's public key", runKeys},
		{"token", "token create --name NAME --role monitor|investigator|admin", runToken},
		{"user", "user add NAME --role R | list | passwd NAME | disable NAME | enable NAME | delete NAME: console users (password on standard input)", runUser},
		{"version", "print the version", func(_ context.Context, e *cmdEnv, _ []string) error {
			fmt.Fprintln(e.out, "wildwatch", wildwatch.Version)
			return nil
		}},
	}
}

func run(ctx context.Context, args []string, s streams, getenv func(string) string) int {
	level := slog.LevelInfo
	if getenv("WILDWATCH_DEBUG") != "" {
		level = slog.LevelDebug
	}
	env := &cmdEnv{streams: s, getenv: getenv, logger: slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: level}))}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(s.out)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ee exitError
		var ue usageError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.code
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(s.err, "wildwatch %s: %s\n", c.name, ue.msg)
			return 2
		default:
			fmt.Fprintf(s.err, "wildwatch %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(s.err, "wildwatch: unknown command %q\n\n", args[0])
	usage(s.err)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "wildwatch: sweep marketplaces for wildlife trafficking, keep signed evidence, flag listings.")
	fmt.Fprintln(w, "\nUsage: wildwatch COMMAND [flags] [args]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `wildwatch COMMAND -h` for a command's flags.")
}

// parseFlags parses args with fs, allowing flags after positional
// arguments ("sweep run t.yaml --data d"), and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// oneArg parses args with fs and returns the one positional argument the
// command takes; what names it in the usage error.
func oneArg(fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usageError{"want one " + what}
	}
	return pos[0], nil
}

// newFlagSet makes a flag set that reports errors instead of exiting.
func newFlagSet(e *cmdEnv, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.err)
	fs.Usage = func() {
		fmt.Fprintf(e.err, "Usage: wildwatch %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// subcommand dispatches "NOUN VERB args" commands.
func subcommand(ctx context.Context, e *cmdEnv, noun string, args []string, verbs map[string]func(context.Context, *cmdEnv, []string) error) error {
	names := make([]string, 0, len(verbs))
	for v := range verbs {
		names = append(names, v)
	}
	sort.Strings(names)
	if len(args) == 0 {
		return usageError{fmt.Sprintf("want one of: %s", strings.Join(names, ", "))}
	}
	fn, ok := verbs[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("unknown %s command %q; want one of: %s", noun, args[0], strings.Join(names, ", "))}
	}
	return fn(ctx, e, args[1:])
}

// readFileArg reads a file, or standard input for "-".
func readFileArg(e *cmdEnv, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(e.in)
	}
	return os.ReadFile(path)
}
