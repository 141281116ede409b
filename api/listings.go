package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// HistoryEntry is one capture of a listing, as its history shows it.
type HistoryEntry struct {
	CaptureID string    `json:"capture_id"`
	SweepID   string    `json:"sweep_id"`
	Target    string    `json:"target"`
	FetchedAt time.Time `json:"fetched_at"`
	Status    int       `json:"status"`
	// Change is how the capture compares with the one before it
	// (wildwatch.ChangeNew, …); empty for captures recorded before changes
	// were tracked.
	Change string `json:"change,omitempty"`
	// RefersTo is the capture whose WARC holds the response in full, for
	// an unchanged capture recorded as a revisit.
	RefersTo string `json:"refers_to,omitempty"`
	// Removed says why the page showed the listing gone (removals only).
	Removed  string  `json:"removed,omitempty"`
	Title    string  `json:"title,omitempty"`
	Price    string  `json:"price,omitempty"`
	Currency string  `json:"currency,omitempty"`
	Flagged  bool    `json:"flagged,omitempty"`
	Score    float64 `json:"score,omitempty"`
	Category string  `json:"category,omitempty"`
	RuleSet  string  `json:"rule_set,omitempty"`
	// ManifestKey is the capture's signed manifest.
	ManifestKey string `json:"manifest_key"`
}

// ListingHistory is a listing's status (one per target that captured its
// URL) and its captures over time, oldest first.
type ListingHistory struct {
	URL      string                    `json:"url"`
	Listings []wildwatch.ListingStatus `json:"listings"`
	Captures []HistoryEntry            `json:"captures"`
}

func historyEntry(rec storage.CaptureRecord) HistoryEntry {
	e := HistoryEntry{
		CaptureID: rec.Capture.ID, SweepID: rec.Capture.SweepID, Target: rec.Capture.Target,
		FetchedAt: rec.Capture.FetchedAt, Status: rec.Capture.Status, Change: rec.Change, RefersTo: rec.RefersTo,
		Title: rec.Listing.Title, Price: rec.Listing.Price, Currency: rec.Listing.Currency,
		Flagged: rec.Verdict.Flagged, Score: rec.Verdict.Score, Category: rec.Verdict.Category, RuleSet: rec.Verdict.RuleSet,
		ManifestKey: rec.ManifestKey,
	}
	if rec.Change == wildwatch.ChangeRemoved {
		e.Removed = rec.Capture.ModeReason
	}
	return e
}

// listListings answers GET /api/v1/listings: the listings of the catalog,
// in URL order, filtered by url, target, id (the listing's own ID, with
// target), state (active or removed), after (a URL, for paging) and limit.
func (s *Server) listListings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(r, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ls, err := s.cfg.Catalog.ListListings(r.Context(), storage.ListingFilter{
		URL: q.Get("url"), Target: q.Get("target"), ListingID: q.Get("id"), State: q.Get("state"), After: q.Get("after"), Limit: limit,
	})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ls)
}

// listingHistory answers GET /api/v1/listings/history?url=U[&target=T], or
// ?target=T&id=ID for a listing known by its own ID: the listing's status
// and its captures in the order they were fetched.
func (s *Server) listingHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u, target, id := q.Get("url"), q.Get("target"), q.Get("id")
	if u == "" && (target == "" || id == "") {
		writeError(w, http.StatusBadRequest, "want url=URL, or target=NAME and id=LISTING_ID")
		return
	}
	ctx := r.Context()
	ls, err := s.cfg.Catalog.ListListings(ctx, storage.ListingFilter{URL: u, Target: target, ListingID: id, Limit: 1000})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if u == "" {
		if len(ls) == 0 {
			writeError(w, http.StatusNotFound, "no listing "+id+" of target "+target)
			return
		}
		if len(ls) > 1 {
			writeError(w, http.StatusConflict, "listing "+id+" of target "+target+" has several URLs; ask by url")
			return
		}
		u = ls[0].URL
	}
	recs, err := s.cfg.Catalog.ListingHistory(ctx, target, u)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if len(recs) == 0 && len(ls) == 0 {
		writeError(w, http.StatusNotFound, "no capture of "+u)
		return
	}
	h := ListingHistory{URL: u, Listings: ls, Captures: make([]HistoryEntry, 0, len(recs))}
	for _, rec := range recs {
		h.Captures = append(h.Captures, historyEntry(rec))
	}
	writeJSON(w, http.StatusOK, h)
}

// Listings lists listings; q holds the filters (url, target, id, state,
// after, limit).
func (c *Client) Listings(ctx context.Context, q url.Values) ([]wildwatch.ListingStatus, error) {
	var ls []wildwatch.ListingStatus
	return ls, c.do(ctx, http.MethodGet, "/api/v1/listings?"+q.Encode(), nil, "", &ls)
}

// ListingHistory returns a listing's status and captures over time; q
// holds url (and optionally target), or target and id.
func (c *Client) ListingHistory(ctx context.Context, q url.Values) (ListingHistory, error) {
	var h ListingHistory
	return h, c.do(ctx, http.MethodGet, "/api/v1/listings/history?"+q.Encode(), nil, "", &h)
}
