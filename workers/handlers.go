package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// handlers glue crawler → rules → storage for each task type.
type handlers struct {
	enq      *enqueuer
	catalog  *storage.Catalog
	evidence *storage.Evidence
	fetcher  *crawler.Fetcher
	matcher  wildwatch.Matcher
	logger   *slog.Logger
}

func (h *handlers) mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeSweepStart, h.withPayload(h.start))
	mux.HandleFunc(TypeIndex, h.withPayload(h.index))
	mux.HandleFunc(TypeListing, h.withPayload(h.listing))
	return mux
}

func (h *handlers) withPayload(fn func(context.Context, payload) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p payload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("decoding %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		return fn(ctx, p)
	}
}

// start fans a sweep out into its index pages.
func (h *handlers) start(ctx context.Context, p payload) error {
	t, err := h.catalog.SweepTarget(ctx, p.Sweep)
	if err != nil {
		return fmt.Errorf("loading target of sweep %s: %w", p.Sweep, err)
	}
	if err := h.catalog.SetSweepStatus(ctx, p.Sweep, wildwatch.SweepRunning); err != nil {
		return fmt.Errorf("starting sweep %s: %w", p.Sweep, err)
	}
	for _, u := range t.IndexURLs() {
		st := storage.SweepTask{SweepID: p.Sweep, Key: taskKey(wildwatch.PageIndex, u), Kind: wildwatch.PageIndex, URL: u, Page: 1}
		if _, err := h.enq.enqueue(ctx, TypeIndex, QueueSweep, st); err != nil {
			return err
		}
	}
	return h.finish(ctx, p, false)
}

// index fetches one index page, enqueues its listings and its next page.
func (h *handlers) index(ctx context.Context, p payload) error {
	t, c, err := h.fetch(ctx, p)
	if err != nil {
		return err
	}
	links, err := crawler.ExtractLinks(t, c.FinalURL, c.Text)
	if err != nil {
		return h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindExtract, err: err})
	}
	n, err := h.catalog.CountTasks(ctx, p.Sweep, wildwatch.PageListing)
	if err != nil {
		return fmt.Errorf("counting listings: %w", err)
	}
	for _, u := range links.Listings {
		if n >= t.Limits.MaxListings {
			h.logger.InfoContext(ctx, "listing limit reached", "sweep", p.Sweep, "limit", t.Limits.MaxListings)
			break
		}
		st := storage.SweepTask{SweepID: p.Sweep, Key: taskKey(wildwatch.PageListing, u), Kind: wildwatch.PageListing, URL: u}
		added, err := h.enq.enqueue(ctx, TypeListing, QueueStatic, st)
		if err != nil {
			return err
		}
		if added {
			n++
		}
	}
	if links.Next != "" && p.Page < t.Limits.MaxPages {
		st := storage.SweepTask{SweepID: p.Sweep, Key: taskKey(wildwatch.PageIndex, links.Next), Kind: wildwatch.PageIndex, URL: links.Next, Page: p.Page + 1}
		if _, err := h.enq.enqueue(ctx, TypeIndex, QueueSweep, st); err != nil {
			return err
		}
	}
	return h.finish(ctx, p, false)
}

// listing captures one listing page: fetch, extract, match, keep the
// evidence, record the capture and, when the verdict says so, a flag.
func (h *handlers) listing(ctx context.Context, p payload) error {
	id := CaptureID(p.Sweep, p.URL)
	if rec, err := h.catalog.GetCapture(ctx, id); err == nil {
		// Captured by an earlier run of this task; make sure the flag exists.
		if err := h.flag(ctx, rec); err != nil {
			return err
		}
		return h.finish(ctx, p, false)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("looking up capture %s: %w", id, err)
	}

	t, c, err := h.fetch(ctx, p)
	if err != nil {
		return err
	}
	c.ID, c.SweepID, c.Target = id, p.Sweep, t.Name

	l, err := crawler.ExtractListing(t, c.FinalURL, c.Text)
	if err != nil {
		return h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindExtract, err: err})
	}
	l.URL = p.URL
	v := h.matcher.Match(l)

	m, err := h.evidence.Record(ctx, storage.WARCParams{Capture: c, Listing: l, Verdict: v, RuleSet: h.matcher.Version()})
	if err != nil {
		return h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindStorage, retryable: true, err: err})
	}
	rec := storage.CaptureRecord{Capture: *c, Listing: l, Verdict: v, ManifestKey: storage.ManifestKey(p.Sweep, id)}
	for _, o := range m.Objects {
		if o.Role == storage.RoleWARC {
			rec.WARCKey, rec.WARCSHA256 = o.Key, o.SHA256
		}
	}
	if _, err := h.catalog.PutCapture(ctx, rec); err != nil {
		return fmt.Errorf("recording capture %s: %w", id, err)
	}
	if err := h.flag(ctx, rec); err != nil {
		return err
	}
	return h.finish(ctx, p, false)
}

// fetch fetches the task's page with the settings of the sweep's target.
// A fetch failure is handled by failed, whose verdict is returned as err.
func (h *handlers) fetch(ctx context.Context, p payload) (wildwatch.Target, *wildwatch.Capture, error) {
	t, err := h.catalog.SweepTarget(ctx, p.Sweep)
	if err != nil {
		return t, nil, fmt.Errorf("loading target of sweep %s: %w", p.Sweep, err)
	}
	t = t.WithDefaults()
	c, err := h.fetcher.Fetch(ctx, t, p.URL)
	if err != nil {
		return t, nil, h.failed(ctx, p, err)
	}
	return t, c, nil
}

// flag raises a flag for a capture whose verdict is flagged; it is a no-op
// when the flag exists.
func (h *handlers) flag(ctx context.Context, rec storage.CaptureRecord) error {
	if !rec.Verdict.Flagged {
		return nil
	}
	f := wildwatch.Flag{
		SweepID:   rec.Capture.SweepID,
		CaptureID: rec.Capture.ID,
		Target:    rec.Capture.Target,
		URL:       rec.Listing.URL,
		Category:  rec.Verdict.Category,
		Score:     rec.Verdict.Score,
		RuleSet:   rec.Verdict.RuleSet,
		Listing:   rec.Listing,
		Verdict:   rec.Verdict,
	}
	if _, _, err := h.catalog.PutFlag(ctx, f); err != nil {
		return fmt.Errorf("raising flag for capture %s: %w", rec.Capture.ID, err)
	}
	return nil
}

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
