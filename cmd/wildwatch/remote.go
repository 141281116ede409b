package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/url"
	"os"

	"github.com/wildwatch/wildwatch/api"
)

// remoteFlags registers --server and returns a client whose token comes
// from WILDWATCH_TOKEN.
func remoteFlags(fs *flag.FlagSet, e *cmdEnv) *api.Client {
	c := &api.Client{Token: e.getenv("WILDWATCH_TOKEN")}
	fs.StringVar(&c.BaseURL, "server", cmp.Or(e.getenv("WILDWATCH_SERVER"), "http://127.0.0.1:8080"), "API server (env WILDWATCH_SERVER); the token comes from WILDWATCH_TOKEN")
	return c
}

func printJSON(e *cmdEnv, v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runFlags(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "flags", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"list": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "flags list", "flags list [--target T] [--category C] [--status S] [--sweep ID] [--since TIME] [--until TIME] [--limit N] [--offset N]")
			c := remoteFlags(fs, e)
			query := filterFlags(fs, "target", "category", "status", "sweep", "since", "until", "limit", "offset")
			if _, err := parseFlags(fs, args); err != nil {
				return err
			}
			fl, err := c.Flags(ctx, query())
			if err != nil {
				return err
			}
			return printJSON(e, fl)
		},
		"show": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "flags show", "flags show FLAG_ID")
			c := remoteFlags(fs, e)
			arg, err := oneArg(fs, args, "flag ID")
			if err != nil {
				return err
			}
			f, err := c.Flag(ctx, arg)
			if err != nil {
				return err
			}
			return printJSON(e, f)
		},
	})
}

func runReview(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "review", "review FLAG_ID --decision confirmed|dismissed|review [--note TEXT]")
	c := remoteFlags(fs, e)
	decision := fs.String("decision", "", "confirmed, dismissed, or review (send on for a second look)")
	note := fs.String("note", "", "why")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *decision == "" {
		return usageError{"want one flag ID and --decision"}
	}
	f, err := c.Review(ctx, pos[0], *decision, *note)
	if err != nil {
		return err
	}
	return printJSON(e, f)
}

func runCapture(ctx context.Context, e *cmdEnv, args []string) error {
	get := func(object string) func(context.Context, *cmdEnv, []string) error {
		return func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "capture "+object, "capture "+object+" CAPTURE_ID [-o FILE] [--data DIR | --database URL: read locally, logged as the OS user]")
			c := remoteFlags(fs, e)
			local := registerLocalEvidence(fs, e)
			out := fs.String("o", "", "write to FILE instead of standard output")
			arg, err := oneArg(fs, args, "capture ID")
			if err != nil {
				return err
			}
			var w io.Writer = e.out
			if *out != "" {
				f, err := os.Create(*out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			if local.chosen() {
				return local.download(ctx, e, arg, object, w)
			}
			return c.Download(ctx, arg, object, w)
		}
	}
	return subcommand(ctx, e, "capture", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"warc":       get("warc"),
		"manifest":   get("manifest"),
		"screenshot": get("screenshot"),
		"dom":        get("dom"),
		"compare": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "capture compare", "capture compare CAPTURE_ID  (static and rendered extraction side by side)")
			c := remoteFlags(fs, e)
			arg, err := oneArg(fs, args, "capture ID")
			if err != nil {
				return err
			}
			x, err := c.Extraction(ctx, arg)
			if err != nil {
				return err
			}
			return printJSON(e, x)
		},
		"show": runCaptureShow,
	})
}

// filterFlags defines a string flag for each API query parameter named and
// returns the func that gathers those given, once the flags are parsed.
func filterFlags(fs *flag.FlagSet, names ...string) func() url.Values {
	vals := make(map[string]*string, len(names))
	for _, n := range names {
		vals[n] = fs.String(n, "", "filter: "+n)
	}
	return func() url.Values {
		q := url.Values{}
		for _, n := range names {
			if *vals[n] != "" {
				q.Set(n, *vals[n])
			}
		}
		return q
	}
}
