package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// finish marks the task done (or failed) in the catalog; the call that
// ends the sweep with its last task logs it and queues its announcement
// (webhooks). A task done ends a run of block pages (see noteFailure).
func (h *handlers) finish(ctx context.Context, p payload, failed bool) error {
	o, err := h.catalog.FinishTaskOutcome(ctx, p.Sweep, p.Key, failed)
	if err != nil {
		return fmt.Errorf("finishing task %s: %w", p.Key, err)
	}
	return h.finished(ctx, p, o)
}

// finished goes on from the outcome o of finishing p's task: when that
// ended the sweep, it logs it and queues its announcement.
func (h *handlers) finished(ctx context.Context, p payload, o storage.TaskOutcome) error {
	if o.SweepEnded {
		h.logger.InfoContext(ctx, "sweep ended", "sweep", p.Sweep, "status", o.Status)
		return h.enq.sweepEnded(ctx, p.Sweep)
	}
	return nil
}

// failed decides what a failed step means: a retryable failure is returned
// for Asynq to retry, unless this was the last attempt; anything else is
// recorded on the sweep, the task is finished as failed and the sweep goes
// on. A block page counts towards pausing the sweep (noteFailure); once it
// is paused, the task is parked instead.
func (h *handlers) failed(ctx context.Context, p payload, err error) error {
	kind, retryable := classify(err)
	if parked, nerr := h.noteFailure(ctx, p, kind, err); nerr != nil {
		return fmt.Errorf("counting failure on sweep %s: %w (%w)", p.Sweep, nerr, err)
	} else if parked {
		return nil
	}
	if retryable && !lastAttempt(ctx) {
		h.logger.WarnContext(ctx, "step failed, will retry", "sweep", p.Sweep, "url", p.URL, "kind", kind, "err", err)
		return err
	}
	h.logger.WarnContext(ctx, "step failed", "sweep", p.Sweep, "url", p.URL, "kind", kind, "err", err)
	e := wildwatch.SweepError{SweepID: p.Sweep, URL: p.URL, Kind: kind, Message: err.Error(), At: time.Now().UTC()}
	if rerr := h.catalog.AddSweepError(ctx, e); rerr != nil {
		return fmt.Errorf("recording error on sweep %s: %w", p.Sweep, rerr)
	}
	h.observer().SweepError(kind)
	if ferr := h.finish(ctx, p, true); ferr != nil {
		return ferr
	}
	return fmt.Errorf("%s: %v: %w", kind, err, asynq.SkipRetry)
}

// taskError is a failure outside fetching with its kind.
type taskError struct {
	kind      string
	retryable bool
	err       error
}

func (e *taskError) Error() string { return e.err.Error() }
func (e *taskError) Unwrap() error { return e.err }

func classify(err error) (kind string, retryable bool) {
	var fe *crawler.FetchError
	if errors.As(err, &fe) {
		return fe.Kind, fe.Retryable
	}
	var te *taskError
	if errors.As(err, &te) {
		return te.kind, te.retryable
	}
	return wildwatch.ErrKindNetwork, true
}

func lastAttempt(ctx context.Context) bool {
	n, ok1 := asynq.GetRetryCount(ctx)
	max, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && n >= max
}
