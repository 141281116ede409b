package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
)

func runSweep(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "sweep", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"run":    runSweepRun,
		"start":  runSweepStart,
		"status": runSweepStatus,
		"list":   runSweepList,
		"pause":  sweepAction("pause", (*api.Client).PauseSweep),
		"resume": sweepAction("resume", (*api.Client).ResumeSweep),
		"cancel": sweepAction("cancel", (*api.Client).CancelSweep),
	})
}

// sweepSummary is the last line `sweep run` prints.
type sweepSummary struct {
	Sweep    string `json:"sweep"`
	Status   string `json:"status"`
	Pages    int    `json:"pages"`
	Listings int    `json:"listings"`
	Captures int    `json:"captures"`
	Flags    int    `json:"flags"`
	Errors   int    `json:"errors"`
	// New, Changed, Unchanged and Removed split the captures by how each
	// compares with the listing's capture before it.
	New       int `json:"new"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Removed   int `json:"removed"`
	// Checked counts listings found unchanged without a new capture.
	Checked int `json:"checked"`
	// Reason says why a sweep is paused, failed or cancelled.
	Reason string `json:"reason,omitempty"`
}

func summarize(s wildwatch.Sweep) sweepSummary {
	c := s.Counts
	return sweepSummary{Sweep: s.ID, Status: s.Status, Pages: c.Pages, Listings: c.Listings, Captures: c.Captures, Flags: c.Flags, Errors: c.Errors,
		New: c.New, Changed: c.Changed, Unchanged: c.Unchanged, Removed: c.Removed, Checked: c.Checked, Reason: s.Reason}
}

// runSweepRun sweeps one target file to the end in the foreground, on the
// same tasks, queue and stores as the daemon.
func runSweepRun(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "sweep run", "sweep run TARGET.yaml [--data DIR] [flags]")
	var o serviceOptions
	o.register(fs, e.getenv)
	concurrency := fs.Int("concurrency", 8, "tasks handled at once")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"want exactly one target file"}
	}
	src, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	t, err := crawler.ParseTarget(pos[0], src)
	if err != nil {
		return err
	}
	st, err := openStack(ctx, o, e.logger)
	if err != nil {
		return err
	}
	defer st.close(ctx)
	if err := st.catalog.PutTarget(ctx, t, src); err != nil {
		return err
	}
	queue, stop, err := st.startWorker(ctx, e.logger, *concurrency)
	if err != nil {
		return err
	}
	defer stop()
	sw, err := queue.StartSweep(ctx, t.Name)
	if err != nil {
		return err
	}
	e.logger.Info("sweep started", "sweep", sw.ID, "target", t.Name)

	sw, err = waitSweep(ctx, sw.ID, 250*time.Millisecond, func(ctx context.Context, id string) (wildwatch.Sweep, error) {
		return st.catalog.GetSweep(ctx, id)
	}, e.logProgress)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(summarize(sw))
	fmt.Fprintln(e.out, string(b))
	if sw.Status != wildwatch.SweepFinished {
		return exitError{1}
	}
	return nil
}

// logProgress logs a sweep's counts.
func (e *cmdEnv) logProgress(s wildwatch.Sweep) {
	e.logger.Info("sweep progress", "sweep", s.ID, "status", s.Status, "pages", s.Counts.Pages, "listings", s.Counts.Listings,
		"captures", s.Counts.Captures, "flags", s.Counts.Flags, "errors", s.Counts.Errors, "pending", s.Counts.Pending)
	if s.Status == wildwatch.SweepPaused {
		e.logger.Warn("sweep paused", "sweep", s.ID, "reason", s.Reason, "resume", "wildwatch sweep resume "+s.ID)
	}
}

// waitSweep polls a sweep until it has ended (finished, failed or
// cancelled), reporting progress every few seconds.
func waitSweep(ctx context.Context, id string, every time.Duration, get func(context.Context, string) (wildwatch.Sweep, error), progress func(wildwatch.Sweep)) (wildwatch.Sweep, error) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		s, err := get(ctx, id)
		if err != nil {
			return s, err
		}
		if wildwatch.SweepEnded(s.Status) {
			return s, nil
		}
		if time.Since(lastReport) >= 5*time.Second {
			progress(s)
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
	}
}

func runSweepStart(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "sweep start", "sweep start TARGET_NAME [--follow]")
	c := remoteFlags(fs, e)
	follow := fs.Bool("follow", false, "wait for the sweep to end, reporting progress; print its summary")
	arg, err := oneArg(fs, args, "target name")
	if err != nil {
		return err
	}
	sw, err := c.StartSweep(ctx, arg)
	if err != nil {
		return err
	}
	if !*follow {
		return printJSON(e, sw)
	}
	e.logger.Info("sweep started", "sweep", sw.ID)
	sw, err = waitSweep(ctx, sw.ID, time.Second, func(ctx context.Context, id string) (wildwatch.Sweep, error) {
		d, err := c.Sweep(ctx, id)
		return d.Sweep, err
	}, e.logProgress)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(summarize(sw))
	fmt.Fprintln(e.out, string(b))
	return nil
}

func runSweepStatus(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "sweep status", "sweep status SWEEP_ID")
	c := remoteFlags(fs, e)
	arg, err := oneArg(fs, args, "sweep ID")
	if err != nil {
		return err
	}
	d, err := c.Sweep(ctx, arg)
	if err != nil {
		return err
	}
	return printJSON(e, d)
}

func runSweepList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "sweep list", "sweep list [--target NAME]")
	c := remoteFlags(fs, e)
	target := fs.String("target", "", "only this target's sweeps")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	sws, err := c.Sweeps(ctx, *target)
	if err != nil {
		return err
	}
	return printJSON(e, sws)
}

// sweepAction is `sweep pause|resume|cancel ID`: it prints the sweep as it
// is after the action.
func sweepAction(verb string, act func(*api.Client, context.Context, string) (wildwatch.Sweep, error)) func(context.Context, *cmdEnv, []string) error {
	return func(ctx context.Context, e *cmdEnv, args []string) error {
		fs := newFlagSet(e, "sweep "+verb, "sweep "+verb+" SWEEP_ID")
		c := remoteFlags(fs, e)
		arg, err := oneArg(fs, args, "sweep ID")
		if err != nil {
			return err
		}
		sw, err := act(c, ctx, arg)
		if err != nil {
			return err
		}
		return printJSON(e, sw)
	}
}
