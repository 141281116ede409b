package workers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// A sweep can be paused, resumed and cancelled while its tasks are queued.
// The catalog says what each task may do (storage.Catalog.GateTask): a
// worker that picks up a task of a paused sweep parks it without fetching
// anything, and of a cancelled or ended sweep drops it; a resume queues
// every task left again under new task IDs (those of the first queueing
// are kept by Asynq for taskRetention, so they cannot be reused).

// lifecycle is what the handlers need to run a sweep's lifecycle.
type lifecycle struct {
	// blockedPause is how many ErrKindBlocked errors in a row pause a
	// sweep.
	blockedPause int
	webhooks     WebhookConfig
	now          func() time.Time
}

// gate reports whether the task of p may run now. A task of a paused sweep
// is parked, one of an ended sweep cancelled, and one already settled
// (done, failed or cancelled: a retried or doubly queued task) dropped;
// none of them runs.
func (h *handlers) gate(ctx context.Context, p payload) (bool, error) {
	g, err := h.catalog.GateTask(ctx, p.Sweep, p.Key)
	return h.gateWith(ctx, p, g, err)
}

// gateWith is gate for the task's gate g (or err) read already.
func (h *handlers) gateWith(ctx context.Context, p payload, g storage.TaskGate, err error) (bool, error) {
	for i := range 3 {
		if i > 0 {
			g, err = h.catalog.GateTask(ctx, p.Sweep, p.Key)
		}
		if errors.Is(err, storage.ErrNotFound) {
			h.logger.WarnContext(ctx, "task not in the catalog; dropped", "sweep", p.Sweep, "key", p.Key)
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch g.TaskState {
		case storage.TaskDone, storage.TaskFailed, storage.TaskCancelled:
			return false, nil
		}
		switch g.SweepStatus {
		case wildwatch.SweepQueued, wildwatch.SweepRunning:
			if g.TaskState == storage.TaskParked {
				if err := h.catalog.UnparkTask(ctx, p.Sweep, p.Key); err != nil {
					return false, err
				}
			}
			return true, nil
		case wildwatch.SweepPaused:
			parked, err := h.catalog.ParkTask(ctx, p.Sweep, p.Key)
			if err != nil {
				return false, err
			}
			if parked {
				h.logger.DebugContext(ctx, "task parked: sweep paused", "sweep", p.Sweep, "url", p.URL)
				return false, nil
			}
			// Resumed meanwhile: look again.
		default:
			return false, h.catalog.CancelTask(ctx, p.Sweep, p.Key)
		}
	}
	return false, fmt.Errorf("task %s of sweep %s: the sweep's status keeps changing", p.Key, p.Sweep)
}

// start fans a sweep out into its index pages and the listings earlier
// sweeps captured. A sweep paused before its start ran keeps its start
// task parked; a start that fails for good fails the sweep.
func (h *handlers) start(ctx context.Context, p payload) error {
	status, err := h.catalog.StartRunning(ctx, p.Sweep)
	if err != nil {
		return h.startFailed(ctx, p, err)
	}
	switch status {
	case wildwatch.SweepRunning:
	case wildwatch.SweepPaused:
		_, err := h.catalog.ParkTask(ctx, p.Sweep, p.Key)
		return err
	default:
		return nil
	}
	t, err := h.target(ctx, p.Sweep)
	if err != nil {
		return h.startFailed(ctx, p, err)
	}
	for _, u := range t.IndexURLs() {
		st := storage.SweepTask{SweepID: p.Sweep, Key: taskKey(wildwatch.PageIndex, u), Kind: wildwatch.PageIndex, URL: u, Page: 1}
		if _, err := h.enq.enqueuePage(ctx, t, st); err != nil {
			return h.startFailed(ctx, p, err)
		}
	}
	if err := h.revisitKnown(ctx, p, t); err != nil {
		return h.startFailed(ctx, p, err)
	}
	return h.finish(ctx, p, false)
}

// startFailed returns err for Asynq to retry the start task, or, on its
// last attempt, fails the sweep.
func (h *handlers) startFailed(ctx context.Context, p payload, err error) error {
	if !lastAttempt(ctx) {
		return err
	}
	h.logger.ErrorContext(ctx, "sweep start failed", "sweep", p.Sweep, "err", err)
	if ferr := h.catalog.FailSweep(ctx, p.Sweep, "start failed: "+err.Error()); ferr != nil && !errors.Is(ferr, storage.ErrSweepStatus) {
		return fmt.Errorf("failing sweep %s: %w (start: %v)", p.Sweep, ferr, err)
	}
	return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
}

// noteFailure keeps count of the block pages (ErrKindBlocked, on any
// attempt) a sweep meets in a row, with no page coming through in between,
// and pauses the sweep when they reach blockedPause. A task that meets a
// block page while its sweep is paused is parked (parked is true): it
// runs again, from the start, when the sweep is resumed. A page that came
// through with an error of its own (an HTTP status, nothing to extract)
// ends the run; other failures (network, throttled…) leave it.
func (h *handlers) noteFailure(ctx context.Context, p payload, kind string, cause error) (parked bool, err error) {
	switch kind {
	case wildwatch.ErrKindHTTP, wildwatch.ErrKindExtract:
		return false, h.catalog.ResetBlocked(ctx, p.Sweep)
	case wildwatch.ErrKindBlocked:
	default:
		return false, nil
	}
	n, err := h.catalog.RecordBlocked(ctx, p.Sweep)
	if err != nil {
		return false, err
	}
	if n >= h.life.blockedPause {
		reason := fmt.Sprintf("blocked: %d pages in a row answered with a block page; last %s: %v", n, p.URL, cause)
		switch err := h.catalog.PauseSweep(ctx, p.Sweep, reason); {
		case err == nil:
			h.logger.WarnContext(ctx, "sweep paused", "sweep", p.Sweep, "reason", reason)
		case !errors.Is(err, storage.ErrSweepStatus): // paused or ended already
			return false, err
		}
	}
	return h.catalog.ParkTask(ctx, p.Sweep, p.Key)
}

// requeue queues task t of a sweep of target tg again, for the resume
// numbered seq.
func (e *enqueuer) requeue(ctx context.Context, tg wildwatch.Target, t storage.SweepTask, seq int) error {
	p := payload{Sweep: t.SweepID, Key: t.Key, URL: t.URL, Page: t.Page}
	id := t.SweepID + "/" + t.Key + "/r" + strconv.Itoa(seq)
	typ, queue := TypeSweepStart, QueueSweep
	switch t.Kind {
	case wildwatch.PageIndex, wildwatch.PageListing:
		if render, reason := crawler.NeedsRender(tg, t.Kind, t.URL, nil); render {
			typ, queue, p.Kind, p.Reason = TypeRender, QueueRender, t.Kind, reason
		} else if t.Kind == wildwatch.PageIndex {
			typ = TypeIndex
		} else {
			typ, queue = TypeListing, QueueStatic
		}
	}
	_, err := e.enqueueTask(ctx, typ, queue, t, p, id)
	return err
}

// PauseSweep pauses a queued or running sweep: the tasks the workers pick
// up from now on are parked, not run, until ResumeSweep. reason says who or
// what paused it. storage.ErrSweepStatus when it is paused or has ended.
func (c *Client) PauseSweep(ctx context.Context, id, reason string) (wildwatch.Sweep, error) {
	if err := c.enq.catalog.PauseSweep(ctx, id, reason); err != nil {
		return wildwatch.Sweep{}, err
	}
	return c.enq.catalog.GetSweep(ctx, id)
}

// ResumeSweep resumes a paused sweep where it stopped: every task left
// (parked or still pending) is queued again. Resuming a running sweep that
// was paused before queues its tasks left again, for a resume cut short.
func (c *Client) ResumeSweep(ctx context.Context, id string) (wildwatch.Sweep, error) {
	r, err := c.enq.catalog.ResumeSweep(ctx, id)
	if err != nil {
		return wildwatch.Sweep{}, err
	}
	if len(r.Tasks) > 0 {
		tg, err := c.enq.catalog.SweepTarget(ctx, id)
		if err != nil {
			return wildwatch.Sweep{}, err
		}
		tg = tg.WithDefaults()
		for _, t := range r.Tasks {
			if err := c.enq.requeue(ctx, tg, t, r.Seq); err != nil {
				return wildwatch.Sweep{}, fmt.Errorf("resuming sweep %s: %w (resume it again to queue the rest)", id, err)
			}
		}
	}
	if wildwatch.SweepEnded(r.Status) {
		if err := c.enq.sweepEnded(ctx, id); err != nil {
			return wildwatch.Sweep{}, err
		}
	}
	return c.enq.catalog.GetSweep(ctx, id)
}

// CancelSweep ends a sweep as cancelled: its tasks not yet run never will
// be. Flags it raised are announced as for a sweep that finished.
func (c *Client) CancelSweep(ctx context.Context, id, reason string) (wildwatch.Sweep, error) {
	if err := c.enq.catalog.CancelSweep(ctx, id, reason); err != nil {
		return wildwatch.Sweep{}, err
	}
	if err := c.enq.sweepEnded(ctx, id); err != nil {
		return wildwatch.Sweep{}, err
	}
	return c.enq.catalog.GetSweep(ctx, id)
}

// lifecycle returns the lifecycle settings of a worker of c.
func (c Config) lifecycle() lifecycle {
	l := lifecycle{blockedPause: cmp.Or(c.BlockedPause, wildwatch.DefaultBlockedPause), webhooks: c.Webhooks.withDefaults(), now: c.Now}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// lifecycleHandlers registers the handlers of schedules and announcements.
func (h *handlers) lifecycleHandlers(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeScheduled, decoded(h.fire))
	mux.HandleFunc(TypeSweepEnded, decoded(h.announce))
	mux.HandleFunc(TypeWebhook, decoded(h.deliver))
}

// decoded decodes a task's JSON payload into a T for fn.
func decoded[T any](fn func(context.Context, T) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p T
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("decoding %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		return fn(ctx, p)
	}
}
