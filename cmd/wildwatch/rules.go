package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"

	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

func runRules(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "rules", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"apply": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "rules apply", "rules apply FILE [--activate] [--note TEXT]")
			c := remoteFlags(fs, e)
			activate := fs.Bool("activate", false, "make it the rule set workers use (they pick it up within seconds)")
			note := fs.String("note", "", "why this version")
			arg, err := oneArg(fs, args, "rule set file")
			if err != nil {
				return err
			}
			src, err := readFileArg(e, arg)
			if err != nil {
				return err
			}
			res, err := c.ApplyRules(ctx, arg, src, *activate, *note)
			if err != nil {
				return err
			}
			state := "stored"
			if !res.Added {
				state = "unchanged from"
			}
			fmt.Fprintf(e.out, "%s %s@%d (active: %v)\n", state, res.Name, res.Version, res.Active)
			return nil
		},
		"list": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "rules list", "rules list")
			c := remoteFlags(fs, e)
			if _, err := parseFlags(fs, args); err != nil {
				return err
			}
			vs, err := c.RuleSets(ctx)
			if err != nil {
				return err
			}
			for _, v := range vs {
				mark := " "
				if v.Active {
					mark = "*"
				}
				fmt.Fprintf(e.out, "%s %s@%d  %s  %s  %s\n", mark, v.Name, v.Version, v.CreatedAt.Format("2006-01-02 15:04:05Z"), v.SHA256[:12], v.Note)
			}
			return nil
		},
		"show": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "rules show", "rules show [NAME@VERSION|active] [--stats]")
			c := remoteFlags(fs, e)
			withStats := fs.Bool("stats", false, "note after each rule how reviewers judged its flags (every version of the rule set)")
			pos, err := parseFlags(fs, args)
			if err != nil {
				return err
			}
			ref := "active"
			if len(pos) == 1 {
				ref = pos[0]
			}
			src, err := c.RuleSource(ctx, ref)
			if err != nil {
				return err
			}
			if *withStats {
				rs, err := rules.Parse(ref, src)
				if err != nil {
					return err
				}
				stats, err := c.RuleStats(ctx, rs.Name)
				if err != nil {
					return err
				}
				src = annotateRuleStats(src, stats)
			}
			_, err = e.out.Write(src)
			return err
		},
		"activate": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "rules activate", "rules activate NAME@VERSION")
			c := remoteFlags(fs, e)
			arg, err := oneArg(fs, args, "NAME@VERSION")
			if err != nil {
				return err
			}
			v, err := c.ActivateRules(ctx, arg)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "active: %s@%d\n", v.Name, v.Version)
			return nil
		},
		"diff": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "rules diff", "rules diff FROM TO  (each NAME@VERSION, active, or a YAML file)")
			c := remoteFlags(fs, e)
			pos, err := parseFlags(fs, args)
			if err != nil {
				return err
			}
			if len(pos) != 2 {
				return usageError{"want FROM and TO"}
			}
			var sets [2]*rules.RuleSet
			for i, ref := range pos {
				src, err := os.ReadFile(ref)
				if err != nil {
					if src, err = c.RuleSource(ctx, ref); err != nil {
						return fmt.Errorf("%s: neither a file nor a stored version: %w", ref, err)
					}
				}
				if sets[i], err = rules.Parse(ref, src); err != nil {
					return err
				}
			}
			rules.FormatDiff(e.out, rules.Diff(sets[0], sets[1]))
			return nil
		},
		"backtest": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "rules backtest", "rules backtest --rules NEW.yaml")
			c := remoteFlags(fs, e)
			path := fs.String("rules", "", "candidate rule set")
			if _, err := parseFlags(fs, args); err != nil {
				return err
			}
			if *path == "" {
				return usageError{"want --rules FILE"}
			}
			src, err := os.ReadFile(*path)
			if err != nil {
				return err
			}
			rep, err := c.Backtest(ctx, *path, src)
			if err != nil {
				return err
			}
			return printJSON(e, rep)
		},
		"stats": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "rules stats", "rules stats [--rule-set NAME[@VERSION]]")
			c := remoteFlags(fs, e)
			rs := fs.String("rule-set", "", "only flags raised by this version (NAME@VERSION) or by any version of it (NAME)")
			if _, err := parseFlags(fs, args); err != nil {
				return err
			}
			stats, err := c.RuleStats(ctx, *rs)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "%-28s %-24s %9s %9s %7s %9s\n", "rule", "term", "confirmed", "dismissed", "pending", "precision")
			for _, s := range stats {
				fmt.Fprintf(e.out, "%-28s %-24s %9d %9d %7d %9.2f\n", s.Rule, s.Term, s.Confirmed, s.Dismissed, s.Pending, s.Precision)
			}
			return nil
		},
	})
}

// ruleIDLine finds the "id:" of a rule in a line of rule-set YAML, in block
// ("- id: ivory.word") or flow ("- {id: ivory.word, …}") style.
var ruleIDLine = regexp.MustCompile(`(?:^\s*-?\s*|[{,]\s*)id:\s*["']?([^"'\s,}#]+)`)

// annotateRuleStats appends to the line of each rule's id a comment saying
// how reviewers judged the flags it took part in. Comments leave the
// YAML's meaning as it was.
func annotateRuleStats(src []byte, stats []storage.RuleStat) []byte {
	byRule := map[string]storage.RuleStat{}
	for _, s := range stats {
		if s.Term == "" {
			byRule[s.Rule] = s
		}
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	var out bytes.Buffer
	for _, line := range lines {
		var s storage.RuleStat
		ok := false
		if m := ruleIDLine.FindSubmatch(line); m != nil {
			s, ok = byRule[string(m[1])]
		}
		if !ok {
			out.Write(line)
			continue
		}
		body := bytes.TrimRight(line, "\r\n")
		note := fmt.Sprintf("reviewed: %d confirmed, %d dismissed, %d pending", s.Confirmed, s.Dismissed, s.Pending)
		if s.Confirmed+s.Dismissed > 0 {
			note += fmt.Sprintf("; precision %.2f", s.Precision)
		}
		sep := "  # "
		if bytes.Contains(body, []byte(" #")) {
			sep = " · "
		}
		fmt.Fprintf(&out, "%s%s%s%s", body, sep, note, line[len(body):])
	}
	return out.Bytes()
}
