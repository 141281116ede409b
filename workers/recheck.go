package workers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// A target with a revisit interval (Target.Revisit) has a listing captured
// again only when its content changed or its last capture is older than
// the interval. Within the interval the listing is still fetched, so that
// a removal or a change is seen: conditionally, with the validators of its
// last capture's answer, when that was a plain static page. An answer of
// 304 Not Modified, or the same content again, is recorded as a listing
// check (wildwatch.ListingCheck), not as a capture: no evidence is stored
// and the listing's last capture stands.

// recheck is a listing fetched within its revisit interval: the capture
// its answer is compared with, and the validators sent.
type recheck struct {
	prev   storage.CaptureRecord
	header http.Header // nil when none were sent
}

// recheckOf returns the recheck of p's listing, or nil when the listing is
// to be captured in full: the target has no revisit interval, the listing
// was never captured or was found removed, its last capture is at least
// the interval old, or was matched with another rule set than the one
// active now (so that new rules see the listing).
func (h *handlers) recheckOf(ctx context.Context, p payload, t wildwatch.Target, kl *knownListing) (*recheck, error) {
	if t.Revisit <= 0 {
		return nil, nil
	}
	l, err := h.listingStatus(ctx, t.Name, p.URL, kl)
	if err != nil || l == nil {
		return nil, err
	}
	if l.State != wildwatch.ListingActive || h.life.now().Sub(l.LastSeen) >= time.Duration(t.Revisit) {
		return nil, nil
	}
	var prev storage.CaptureRecord
	if kl != nil && kl.previous != nil && kl.previous.Capture.ID == l.LastCapture {
		prev = *kl.previous
	} else if prev, err = h.catalog.GetCapture(ctx, l.LastCapture); errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	matcher, err := h.rules.Matcher(ctx)
	if err != nil {
		return nil, err
	}
	if prev.Verdict.RuleSet != matcher.Version() {
		return nil, nil
	}
	rc := &recheck{prev: prev}
	pc := prev.Capture
	if pc.Mode != wildwatch.RenderBrowser && pc.Rendered == nil && pc.Status == http.StatusOK && (pc.FinalURL == "" || pc.FinalURL == pc.URL) {
		hdr := http.Header{}
		if v := pc.Header.Get("ETag"); v != "" {
			hdr.Set("If-None-Match", v)
		}
		if v := pc.Header.Get("Last-Modified"); v != "" {
			hdr.Set("If-Modified-Since", v)
		}
		if len(hdr) > 0 {
			rc.header = hdr
		}
	}
	return rc, nil
}

// context returns ctx carrying the recheck's validators for the fetch.
func (r *recheck) context(ctx context.Context) context.Context {
	if r == nil || r.header == nil {
		return ctx
	}
	return crawler.WithConditional(ctx, r.header)
}

// unchanged records a listing check, and finishes the task, when c shows
// the listing as the recheck's capture did: a 304 to the validators sent,
// the same payload fetched statically as a static capture had, or the
// same content rendered. done reports that the task was handled.
func (h *handlers) unchanged(ctx context.Context, p payload, t wildwatch.Target, r *recheck, c *wildwatch.Capture) (done bool, err error) {
	if r == nil || c == nil {
		return false, nil
	}
	pc := r.prev.Capture
	var result string
	switch {
	case c.Status == http.StatusNotModified && r.header != nil:
		result = wildwatch.CheckNotModified
	case c.Status/100 != 2 || c.Truncated:
		return false, nil
	case c.Rendered == nil && pc.Rendered == nil && pc.Mode != wildwatch.RenderBrowser && storage.PayloadDigest(c.Body) == r.prev.PayloadDigest:
		result = wildwatch.CheckSameContent
	case c.Rendered != nil && storage.ContentDigest(c) == r.prev.ContentDigest:
		result = wildwatch.CheckSameContent
	default:
		return false, nil
	}
	k := wildwatch.ListingCheck{SweepID: p.Sweep, Target: t.Name, URL: p.URL, CaptureID: pc.ID, CheckedAt: h.life.now().UTC(),
		Status: c.Status, Result: result, IfNoneMatch: r.header.Get("If-None-Match"), IfModifiedSince: r.header.Get("If-Modified-Since")}
	if _, err := h.catalog.PutListingCheck(ctx, k); err != nil {
		return true, err
	}
	h.logger.DebugContext(ctx, "listing unchanged; not captured again", "sweep", p.Sweep, "url", p.URL, "result", result, "capture", pc.ID)
	return true, h.finish(ctx, p, false)
}

// recheckRendered is unchanged for a listing page rendered in the browser.
func (h *handlers) recheckRendered(ctx context.Context, p payload, t wildwatch.Target, c *wildwatch.Capture) (bool, error) {
	if c == nil || c.Rendered == nil {
		return false, nil
	}
	r, err := h.recheckOf(ctx, p, t, nil)
	if err != nil {
		return true, err
	}
	return h.unchanged(ctx, p, t, r, c)
}
