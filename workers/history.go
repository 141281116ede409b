package workers

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// revisitKnown queues, as listing tasks of the sweep, the target's listings
// that earlier sweeps captured and did not find removed, so that a listing
// gone from the index pages is still checked. Their task keys are those an
// index page gives the same URL, so a listing both known and found is one
// task. They have page 0: the listing limit counts the listings found on
// index pages only.
func (h *handlers) revisitKnown(ctx context.Context, p payload, t wildwatch.Target) error {
	n := 0
	err := h.catalog.EachActiveListing(ctx, t.Name, func(u string) error {
		st := storage.SweepTask{SweepID: p.Sweep, Key: taskKey(wildwatch.PageListing, u), Kind: wildwatch.PageListing, URL: u}
		added, err := h.enq.enqueuePage(ctx, t, st)
		if added {
			n++
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("queueing known listings of %s: %w", t.Name, err)
	}
	if n > 0 {
		h.logger.InfoContext(ctx, "checking known listings again", "sweep", p.Sweep, "target", t.Name, "listings", n)
	}
	return nil
}

// removal records c, the answer for a listing page, as the listing's
// removal when the listing was captured before, is not known removed, and
// its page says it is gone (crawler.Removal: 404, 410 or the target's
// removal page). done reports that the task was handled (err is then its
// outcome); otherwise the caller goes on with c as a listing page or an
// error. A listing never captured before that answers 404 stays a fetch
// error.
func (h *handlers) removal(ctx context.Context, p payload, t wildwatch.Target, c *wildwatch.Capture, kl *knownListing) (done bool, err error) {
	if c == nil {
		return false, nil
	}
	known, err := h.listingStatus(ctx, t.Name, p.URL, kl)
	if err != nil {
		return true, err
	}
	if known == nil || known.State != wildwatch.ListingActive {
		return false, nil
	}
	why := crawler.Removal(t, c)
	if why == "" {
		return false, nil
	}
	h.logger.InfoContext(ctx, "listing removed", "sweep", p.Sweep, "url", p.URL, "why", why)
	id := CaptureID(p.Sweep, p.URL)
	c.ID, c.SweepID, c.Target = id, p.Sweep, t.Name
	if c.Rendered != nil {
		c.Mode = wildwatch.RenderBrowser
	} else {
		c.Mode = wildwatch.RenderStatic
	}
	c.ModeReason = "listing removed: " + why
	l := wildwatch.Listing{URL: p.URL}
	m, err := h.evidence.Record(ctx, storage.WARCParams{Capture: c, Listing: l, Removed: why, FirstAttempt: firstAttempt(ctx)})
	if err != nil {
		return true, h.failed(ctx, p, &taskError{kind: wildwatch.ErrKindStorage, retryable: true, err: err})
	}
	rec := storage.CaptureRecord{Capture: *c, Listing: l, Change: wildwatch.ChangeRemoved,
		PayloadDigest: storage.PayloadDigest(c.Body), ContentDigest: storage.ContentDigest(c)}
	rec.SetEvidence(m)
	if _, err := h.catalog.PutCapture(ctx, rec); err != nil {
		return true, fmt.Errorf("recording removal %s: %w", id, err)
	}
	return true, h.finish(ctx, p, false)
}

// knownListing is what a listing task read of the catalog about its
// listing before the fetch (storage.ListingLookup); a task without one
// reads it when it needs it.
type knownListing struct {
	status   *wildwatch.ListingStatus // nil: not in the catalog
	previous *storage.CaptureRecord   // nil: no capture before
}

// listingStatus returns the status of the target's listing URL, from kl
// when it is not nil; nil when the catalog does not know the listing.
func (h *handlers) listingStatus(ctx context.Context, target, url string, kl *knownListing) (*wildwatch.ListingStatus, error) {
	if kl != nil {
		return kl.status, nil
	}
	l, err := h.catalog.GetListing(ctx, target, url)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up listing %s: %w", url, err)
	}
	return &l, nil
}

// previous returns the capture of the target's listing URL before the
// capture id that showed the listing, from kl when it is not nil; nil
// when there is none.
func (h *handlers) previous(ctx context.Context, target, url, id string, kl *knownListing) (*storage.CaptureRecord, error) {
	if kl != nil {
		return kl.previous, nil
	}
	prev, err := h.catalog.PreviousCapture(ctx, target, url, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up the capture of %s before %s: %w", url, id, err)
	}
	return &prev, nil
}

// revisitOf returns the response record a capture whose payload digest is
// payload may refer to: the one prev refers to, or prev's own. It is nil
// when the payloads differ or the earlier evidence cannot be leaned on
// (missing, changed, unsigned), and the capture then keeps its response in
// full.
func (h *handlers) revisitOf(ctx context.Context, prev storage.CaptureRecord, payload string) *storage.Revisit {
	if prev.PayloadDigest != payload {
		return nil
	}
	orig := prev
	if prev.RefersTo != "" {
		var err error
		if orig, err = h.catalog.GetCapture(ctx, prev.RefersTo); err != nil {
			h.logger.WarnContext(ctx, "revisited capture not found; storing the response in full", "capture", prev.RefersTo, "err", err)
			return nil
		}
	}
	rv, err := h.evidence.RevisitOf(ctx, orig.ManifestKey)
	if err == nil && rv.PayloadDigest != payload {
		err = fmt.Errorf("its payload digest is %s", rv.PayloadDigest)
	}
	if err != nil {
		h.logger.WarnContext(ctx, "cannot refer to the earlier response; storing it in full",
			"capture", cmp.Or(orig.Capture.ID, prev.RefersTo), "err", err)
		return nil
	}
	return rv
}

// earlierObjects returns the rendered DOM and screenshot of prev, which a
// new rendering with the same bytes need not store again; none when they
// cannot be read.
func (h *handlers) earlierObjects(ctx context.Context, prev storage.CaptureRecord) []storage.ManifestObject {
	objs, err := h.evidence.EarlierObjects(ctx, prev.ManifestKey)
	if err != nil {
		h.logger.WarnContext(ctx, "earlier rendering unreadable; storing this one in full", "capture", prev.Capture.ID, "err", err)
		return nil
	}
	return objs
}
