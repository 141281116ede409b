package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
)

// finish marks the task done (or failed) in the catalog; the call that
// finishes the sweep's last task logs it.
func (h *handlers) finish(ctx context.Context, p payload, failed bool) error {
	done, err := h.catalog.FinishTask(ctx, p.Sweep, p.Key, failed)
	if err != nil {
		return fmt.Errorf("finishing task %s: %w", p.Key, err)
	}
	if done {
		h.logger.InfoContext(ctx, "sweep finished", "sweep", p.Sweep)
	}
	return nil
}

// failed decides what a failed step means: a retryable failure is returned
// for Asynq to retry, unless this was the last attempt; anything else is
// recorded on the sweep, the task is finished as failed and the sweep goes
// on.
func (h *handlers) failed(ctx context.Context, p payload, err error) error {
	kind, retryable := classify(err)
	if retryable && !lastAttempt(ctx) {
		h.logger.WarnContext(ctx, "step failed, will retry", "sweep", p.Sweep, "url", p.URL, "kind", kind, "err", err)
		return err
	}
	h.logger.WarnContext(ctx, "step failed", "sweep", p.Sweep, "url", p.URL, "kind", kind, "err", err)
	e := wildwatch.SweepError{SweepID: p.Sweep, URL: p.URL, Kind: kind, Message: err.Error(), At: time.Now().UTC()}
	if rerr := h.catalog.AddSweepError(ctx, e); rerr != nil {
		return fmt.Errorf("recording error on sweep %s: %w", p.Sweep, rerr)
	}
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
