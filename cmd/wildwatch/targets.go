package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wildwatch/wildwatch"
)

func runTargets(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "targets", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"apply":    runTargetsApply,
		"list":     runTargetsList,
		"schedule": runTargetsSchedule,
	})
}

func runTargetsApply(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "targets apply", "targets apply FILE...")
	c := remoteFlags(fs, e)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"want one or more target files"}
	}
	for _, p := range pos {
		src, err := readFileArg(e, p)
		if err != nil {
			return err
		}
		t, err := c.ApplyTarget(ctx, p, src)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.out, "applied target %q from %s\n", t.Name, p)
	}
	return nil
}

// runTargetsList prints each target with its schedule, next run and last
// sweep: a table, or JSON with --json.
func runTargetsList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "targets list", "targets list [--json]")
	c := remoteFlags(fs, e)
	asJSON := fs.Bool("json", false, "print JSON: each target's schedule, next run and last sweep")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	ss, err := c.Schedules(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e, ss)
	}
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSCHEDULE\tNEXT RUN\tLAST SWEEP\tSTATUS\tSTARTED")
	for _, s := range ss {
		next, last, status, started := "-", "-", "-", "-"
		if s.NextRun != nil {
			next = s.NextRun.Local().Format(time.DateTime)
		}
		if l := s.LastSweep; l != nil {
			last, status, started = l.ID, l.Status, l.CreatedAt.Local().Format(time.DateTime)
			if l.Reason != "" {
				status += " (" + l.Reason + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Target, describeSchedule(s.Schedule), next, last, status, started)
	}
	return tw.Flush()
}

// describeSchedule writes a schedule on one line: "cron 0 */6 * * *
// 22:00-06:00 Europe/Berlin", "every 6h", "-" for none.
func describeSchedule(s *wildwatch.Schedule) string {
	if s == nil {
		return "-"
	}
	var parts []string
	if s.Cron != "" {
		parts = append(parts, "cron "+s.Cron)
	} else {
		every, _ := s.Every.MarshalText()
		parts = append(parts, "every "+string(every))
	}
	if s.Window != "" {
		parts = append(parts, "window "+s.Window)
	}
	if s.TZ != "" {
		parts = append(parts, s.TZ)
	}
	return strings.Join(parts, " ")
}

// runTargetsSchedule sets or turns off a target's schedule.
func runTargetsSchedule(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "targets schedule", "targets schedule NAME (--cron EXPR | --every 6h | --off) [--window 22:00-06:00] [--tz Europe/Berlin]")
	c := remoteFlags(fs, e)
	cronExpr := fs.String("cron", "", `cron expression, five fields ("0 */6 * * *") or @daily, @hourly…`)
	every := fs.String("every", "", "interval between sweeps: 6h, 90m, 1d")
	off := fs.Bool("off", false, "turn the schedule off: sweeps are started by hand only")
	window := fs.String("window", "", "start sweeps only within these hours of the day, HH:MM-HH:MM (may span midnight); a start outside it waits for it")
	tz := fs.String("tz", "", "IANA time zone of the cron expression and window (default UTC)")
	name, err := oneArg(fs, args, "target name")
	if err != nil {
		return err
	}
	var s *wildwatch.Schedule
	switch {
	case *off && (*cronExpr != "" || *every != "" || *window != "" || *tz != ""):
		return usageError{"--off takes no other schedule flag"}
	case *off:
	case (*cronExpr == "") == (*every == ""):
		return usageError{"want one of --cron, --every or --off"}
	default:
		s = &wildwatch.Schedule{Cron: *cronExpr, Window: *window, TZ: *tz}
		if *every != "" {
			d, err := wildwatch.ParseInterval(*every)
			if err != nil {
				return usageError{"--every: " + err.Error()}
			}
			s.Every = wildwatch.Interval(d)
		}
	}
	t, err := c.SetSchedule(ctx, name, s)
	if err != nil {
		return err
	}
	if t.Schedule == nil {
		fmt.Fprintf(e.out, "target %q: no schedule\n", t.Name)
		return nil
	}
	fmt.Fprintf(e.out, "target %q: %s\n", t.Name, describeSchedule(t.Schedule))
	return nil
}
