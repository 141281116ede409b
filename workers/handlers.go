package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"

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
	browser  *crawler.Browser // nil: this worker does not render
	rules    MatcherSource
	logger   *slog.Logger
	obs      Observer // nil: nobody observes
	life     lifecycle
}

func (h *handlers) mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeSweepStart, h.withPayload(h.start))
	mux.HandleFunc(TypeIndex, h.withPayload(h.index))
	mux.HandleFunc(TypeListing, h.decodedPayload(h.listing))
	mux.HandleFunc(TypeRender, h.withPayload(h.render))
	h.lifecycleHandlers(mux)
	return mux
}

func (h *handlers) withPayload(fn func(context.Context, payload) error) asynq.HandlerFunc {
	return h.decodedPayload(func(ctx context.Context, p payload) error {
		if run, err := h.gate(ctx, p); !run || err != nil {
			return err
		}
		return fn(ctx, p)
	})
}

// decodedPayload decodes a task's payload for fn, which gates the task
// itself.
func (h *handlers) decodedPayload(fn func(context.Context, payload) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p payload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("decoding %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		return fn(ctx, p)
	}
}

// target loads the sweep's snapshot of its target, with defaults.
func (h *handlers) target(ctx context.Context, sweep string) (wildwatch.Target, error) {
	t, err := h.catalog.SweepTarget(ctx, sweep)
	if err != nil {
		return t, fmt.Errorf("loading target of sweep %s: %w", sweep, err)
	}
	return t.WithDefaults(), nil
}

// index fetches one index page statically and goes on with its links, or
// hands the page to the render queue when the static page shows none.
func (h *handlers) index(ctx context.Context, p payload) error {
	t, err := h.target(ctx, p.Sweep)
	if err != nil {
		return err
	}
	c, err := h.fetched(t.Name, wildwatch.RenderStatic)(h.fetcher.Fetch(ctx, t, p.URL))
	if err != nil {
		return h.failed(ctx, p, err)
	}
	if render, reason := crawler.NeedsRender(t, wildwatch.PageIndex, p.URL, c); render {
		_, err := h.enq.enqueueRender(ctx, h.task(p, wildwatch.PageIndex), reason, nil)
		return err
	}
	return h.indexPage(ctx, p, t, c.FinalURL, c.Text)
}

// indexPage enqueues the listings and the next page found on an index page.
func (h *handlers) indexPage(ctx context.Context, p payload, t wildwatch.Target, pageURL, html string) error {
	links, err := crawler.ExtractLinks(t, pageURL, html)
	if err != nil {
		return h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindExtract, err: err})
	}
	// The limit bounds the listings found on index pages; the known
	// listings checked again (revisitKnown) are not counted.
	n, err := h.catalog.CountFoundListings(ctx, p.Sweep)
	if err != nil {
		return fmt.Errorf("counting listings: %w", err)
	}
	// The listings are queued as many at a time as the limit leaves room
	// for: a listing queued already (found on another page) takes none.
	for rest := links.Listings; len(rest) > 0; {
		room := t.Limits.MaxListings - n
		if room <= 0 {
			h.logger.InfoContext(ctx, "listing limit reached", "sweep", p.Sweep, "limit", t.Limits.MaxListings)
			break
		}
		batch := make([]storage.SweepTask, 0, min(room, len(rest)))
		for _, u := range rest[:min(room, len(rest))] {
			batch = append(batch, storage.SweepTask{SweepID: p.Sweep, Key: taskKey(wildwatch.PageListing, u), Kind: wildwatch.PageListing, URL: u, Page: max(p.Page, 1)})
		}
		rest = rest[len(batch):]
		added, err := h.enq.enqueuePages(ctx, t, batch)
		if err != nil {
			return err
		}
		for _, a := range added {
			if a {
				n++
			}
		}
	}
	if links.Next != "" && p.Page < t.Limits.MaxPages {
		st := storage.SweepTask{SweepID: p.Sweep, Key: taskKey(wildwatch.PageIndex, links.Next), Kind: wildwatch.PageIndex, URL: links.Next, Page: p.Page + 1}
		if _, err := h.enq.enqueuePage(ctx, t, st); err != nil {
			return err
		}
	}
	return h.finish(ctx, p, false)
}

// listing captures one listing page statically, or hands it to the render
// queue when the static page shows no listing.
//
// What the task needs of the catalog before the fetch (its gate, an
// earlier run's capture, the listing's status and capture before) is read
// at once, in one round trip (storage.Catalog.LookupListing).
func (h *handlers) listing(ctx context.Context, p payload) error {
	lk, err := h.catalog.LookupListing(ctx, p.Sweep, p.Key, p.URL, CaptureID(p.Sweep, p.URL))
	if run, err := h.gateWith(ctx, p, lk.Gate, err); !run || err != nil {
		return err
	}
	if lk.Captured {
		if done, err := h.captured(ctx, p); done || err != nil {
			return err
		}
	}
	known := &knownListing{status: lk.Listing, previous: lk.Previous}
	t, err := h.target(ctx, p.Sweep)
	if err != nil {
		return err
	}
	rc, err := h.recheckOf(ctx, p, t, known)
	if err != nil {
		return err
	}
	c, err := h.fetched(t.Name, wildwatch.RenderStatic)(h.fetcher.Fetch(rc.context(ctx), t, p.URL))
	if done, rerr := h.unchanged(ctx, p, t, rc, c); done {
		return rerr
	}
	if done, rerr := h.removal(ctx, p, t, c, known); done {
		return rerr
	}
	if err != nil {
		return h.failed(ctx, p, err)
	}
	if render, reason := crawler.NeedsRender(t, wildwatch.PageListing, p.URL, c); render {
		var static *wildwatch.Listing // what a static fetch shows, for comparison
		if l, _ := crawler.ExtractListing(t, c.FinalURL, c.Text); l.Title != "" || l.Description != "" || l.Price != "" {
			static = &l
		}
		_, err := h.enq.enqueueRender(ctx, h.task(p, wildwatch.PageListing), reason, static)
		return err
	}
	c.Mode, c.ModeReason = wildwatch.RenderStatic, "static fetch found the listing"
	l, err := crawler.ExtractListing(t, c.FinalURL, c.Text)
	if err != nil {
		return h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindExtract, err: err})
	}
	return h.record(ctx, p, t, c, l, nil, known)
}

// render renders an index or listing page in the browser.
func (h *handlers) render(ctx context.Context, p payload) error {
	if h.browser == nil {
		return fmt.Errorf("this worker has no browser for the %s queue", QueueRender)
	}
	if p.Kind == wildwatch.PageListing {
		if done, err := h.captured(ctx, p); done || err != nil {
			return err
		}
	}
	t, err := h.target(ctx, p.Sweep)
	if err != nil {
		return err
	}
	c, err := h.fetched(t.Name, wildwatch.RenderBrowser)(h.browser.Render(ctx, t, p.URL, p.Kind))
	if c != nil {
		c.Mode, c.ModeReason = wildwatch.RenderBrowser, p.Reason
	}
	if p.Kind == wildwatch.PageListing {
		if done, rerr := h.recheckRendered(ctx, p, t, c); done {
			return rerr
		}
		if done, rerr := h.removal(ctx, p, t, c, nil); done {
			return rerr
		}
	}
	if err != nil {
		return h.failed(ctx, p, err)
	}
	if p.Kind == wildwatch.PageIndex {
		return h.indexPage(ctx, p, t, c.FinalURL, string(c.Rendered.DOM))
	}
	l, err := crawler.ExtractListing(t, c.FinalURL, string(c.Rendered.DOM))
	if err != nil {
		return h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindExtract, err: err})
	}
	return h.record(ctx, p, t, c, l, p.Static, nil)
}

// captured reports whether the listing was captured by an earlier run of
// its task; if so it makes sure the flag exists and finishes the task.
func (h *handlers) captured(ctx context.Context, p payload) (bool, error) {
	id := CaptureID(p.Sweep, p.URL)
	rec, err := h.catalog.GetCapture(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up capture %s: %w", id, err)
	}
	if err := h.flag(ctx, rec); err != nil {
		return true, err
	}
	return true, h.finish(ctx, p, false)
}

// record compares a listing's capture with the one before it, matches the
// listing (or keeps the earlier verdict on unchanged content), keeps the
// evidence (a revisit record when the response payload is unchanged),
// records the capture and, when the verdict says so, a flag; then finishes
// the task.
func (h *handlers) record(ctx context.Context, p payload, t wildwatch.Target, c *wildwatch.Capture, l wildwatch.Listing, static *wildwatch.Listing, known *knownListing) error {
	id := CaptureID(p.Sweep, p.URL)
	c.ID, c.SweepID, c.Target = id, p.Sweep, t.Name
	l.URL = p.URL
	matcher, err := h.rules.Matcher(ctx)
	if err != nil {
		return err
	}
	rec := storage.CaptureRecord{Capture: *c, Listing: l, StaticListing: static,
		PayloadDigest: storage.PayloadDigest(c.Body), ContentDigest: storage.ContentDigest(c)}
	prev, err := h.previous(ctx, t.Name, p.URL, id, known)
	if err != nil {
		return err
	}
	switch {
	case prev == nil:
		rec.Change = wildwatch.ChangeNew
	case prev.ContentDigest == rec.ContentDigest:
		rec.Change = wildwatch.ChangeUnchanged
	default:
		rec.Change = wildwatch.ChangeChanged
	}
	if rec.Change == wildwatch.ChangeUnchanged && prev.Verdict.RuleSet == matcher.Version() && reflect.DeepEqual(prev.Listing, l) {
		rec.Verdict = prev.Verdict
	} else {
		rec.Verdict = matcher.Match(l)
	}
	params := storage.WARCParams{Capture: c, Listing: l, Verdict: rec.Verdict, RuleSet: matcher.Version(), FirstAttempt: firstAttempt(ctx)}
	if prev != nil {
		params.Revisit = h.revisitOf(ctx, *prev, rec.PayloadDigest)
		if c.Rendered != nil {
			params.Earlier = h.earlierObjects(ctx, *prev)
		}
	}

	m, err := h.evidence.Record(ctx, params)
	if err != nil {
		return h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindStorage, retryable: true, err: err})
	}
	rec.SetEvidence(m)
	// The capture, its flag and the task's end are one transaction.
	var f *wildwatch.Flag
	if rec.Verdict.Flagged {
		f = flagOf(rec)
	}
	r, err := h.catalog.PutCaptureFinish(ctx, rec, p.Key, f)
	if err != nil {
		return fmt.Errorf("recording capture %s: %w", id, err)
	}
	if !r.Added {
		// Recorded by another run of the task: see that it is flagged and
		// finished.
		if err := h.flag(ctx, rec); err != nil {
			return err
		}
		return h.finish(ctx, p, false)
	}
	if r.Flag != nil {
		h.observer().FlagRaised(r.Flag.Target, r.Flag.Category)
	}
	return h.finished(ctx, p, r.Outcome)
}

// firstAttempt reports whether the task runs for the first time (asynq's
// retry count is 0), so that no earlier run of it stored evidence.
// storage.WARCParams.FirstAttempt says why a wrong answer is harmless.
func firstAttempt(ctx context.Context) bool {
	n, ok := asynq.GetRetryCount(ctx)
	return ok && n == 0
}

// task is the catalog task a payload belongs to.
func (h *handlers) task(p payload, kind string) storage.SweepTask {
	return storage.SweepTask{SweepID: p.Sweep, Key: p.Key, Kind: kind, URL: p.URL, Page: p.Page}
}

// flag raises a flag for a capture whose verdict is flagged; it is a no-op
// when the flag exists.
func (h *handlers) flag(ctx context.Context, rec storage.CaptureRecord) error {
	if !rec.Verdict.Flagged {
		return nil
	}
	// The same content of a target's listing is flagged once, however often
	// it is captured; a review of that flag stands for every capture of it.
	if before, err := h.catalog.FlaggedBefore(ctx, rec.Capture.Target, rec.Capture.URL, rec.ContentDigest, rec.Capture.ID); err != nil {
		return err
	} else if before {
		return nil
	}
	f := *flagOf(rec)
	if _, added, err := h.catalog.PutFlag(ctx, f); err != nil {
		return fmt.Errorf("raising flag for capture %s: %w", rec.Capture.ID, err)
	} else if added {
		h.observer().FlagRaised(f.Target, f.Category)
	}
	return nil
}

// flagOf is the flag a flagged capture raises.
func flagOf(rec storage.CaptureRecord) *wildwatch.Flag {
	return &wildwatch.Flag{
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
}
