package storage

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wildwatch/wildwatch"
)

// A listing is a target's listing URL as its captures tell it: first and
// last seen, when its content last changed, active or removed. PutCapture
// keeps the listings table up to date; these methods read it.

// refreshListing recomputes the listing row of (target, url) from its
// captures, within tx. listingID, when not empty, becomes the listing's ID.
//
// The row is written first, to lock it on PostgreSQL: two transactions
// putting captures of one listing take turns, and the second one's read of
// the captures (at READ COMMITTED) sees the first one's capture. On SQLite
// the transaction holds the database's write lock already.
func refreshListing(ctx context.Context, tx *sql.Tx, target, url, listingID string) error {
	if _, err := tx.ExecContext(ctx, listingLockSQL, target, url, unixMicros(catalogNow())); err != nil {
		return fmt.Errorf("locking listing %s: %w", url, err)
	}
	rows, err := tx.QueryContext(ctx, listingCapturesSQL, target, url)
	if err != nil {
		return fmt.Errorf("reading captures of listing %s: %w", url, err)
	}
	var caps []listingCapture
	for rows.Next() {
		var lc listingCapture
		if err := rows.Scan(&lc.id, &lc.at, &lc.change); err != nil {
			rows.Close()
			return fmt.Errorf("reading captures of listing %s: %w", url, err)
		}
		caps = append(caps, lc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading captures of listing %s: %w", url, err)
	}
	q, args := listingUpdate(target, url, listingID, caps)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("updating listing %s: %w", url, err)
	}
	return nil
}

// listingLockSQL writes a listing's row, adding it when it is new, which
// locks it. Arguments: target, url, now.
const listingLockSQL = `INSERT INTO listings (target, url, listing_id, state, first_seen, first_capture,
	last_seen, last_capture, last_changed, removed_at, removed_capture, captures, updated_at)
	VALUES ($1, $2, '', 'active', 0, '', 0, '', 0, NULL, '', 0, $3)
	ON CONFLICT (target, url) DO UPDATE SET updated_at = excluded.updated_at`

// listingCapturesSQL reads what refreshListing needs of a listing's
// captures, in fetch order. Arguments: target, url.
const listingCapturesSQL = `SELECT id, fetched_at, change FROM captures
	WHERE target = $1 AND url = $2 ORDER BY fetched_at, id`

// listingUpdate returns the statement that writes the status of the
// listing (target, url) computed from its captures caps: deleting its row
// when there are none.
func listingUpdate(target, url, listingID string, caps []listingCapture) (string, []any) {
	if len(caps) == 0 {
		return `DELETE FROM listings WHERE target = $1 AND url = $2`, []any{target, url}
	}
	st := summarizeListing(caps)
	var removedAt sql.NullInt64
	removedCapture := ""
	state := wildwatch.ListingActive
	if st.removed != nil {
		removedAt = sql.NullInt64{Int64: st.removed.at, Valid: true}
		removedCapture = st.removed.id
		state = wildwatch.ListingRemoved
	}
	return `UPDATE listings SET
		listing_id = CASE WHEN CAST($3 AS TEXT) <> '' THEN CAST($3 AS TEXT) ELSE listing_id END,
		state = $4, first_seen = $5, first_capture = $6, last_seen = $7, last_capture = $8, last_changed = $9,
		removed_at = $10, removed_capture = $11, captures = $12
		WHERE target = $1 AND url = $2`,
		[]any{target, url, listingID, state, st.first.at, st.first.id, st.last.at, st.last.id, st.changed,
			removedAt, removedCapture, len(caps)}
}

// listingCapture is what refreshListing reads of each capture.
type listingCapture struct {
	id     string
	at     int64
	change string
}

// listingSummary is a listing's status computed from its captures.
type listingSummary struct {
	// first and last are the first and last captures that showed the
	// listing (the first and last captures at all, when none did).
	first, last listingCapture
	// changed is when the content last changed: the last capture that
	// showed the listing and was not unchanged.
	changed int64
	// removed is the first of the removal captures after the last one that
	// showed the listing; nil when the listing is active.
	removed *listingCapture
}

// summarizeListing reads the status of a listing from its captures, in
// fetch order (at least one).
func summarizeListing(caps []listingCapture) listingSummary {
	var s listingSummary
	shown := false
	for i, c := range caps {
		if c.change == wildwatch.ChangeRemoved {
			if s.removed == nil {
				s.removed = &caps[i]
			}
			continue
		}
		s.removed = nil
		if !shown {
			s.first, shown = c, true
		}
		s.last = c
		if c.change != wildwatch.ChangeUnchanged {
			s.changed = c.at
		}
	}
	if !shown {
		s.first, s.last, s.changed = caps[0], caps[len(caps)-1], caps[0].at
	}
	return s
}

const listingSelect = `SELECT target, url, listing_id, state, first_seen, first_capture, last_seen, last_capture,
	last_changed, removed_at, removed_capture, captures FROM listings`

func scanListing(r rowScanner) (wildwatch.ListingStatus, error) {
	var l wildwatch.ListingStatus
	var first, last, changed int64
	var removed sql.NullInt64
	if err := r.Scan(&l.Target, &l.URL, &l.ListingID, &l.State, &first, &l.FirstCapture, &last, &l.LastCapture,
		&changed, &removed, &l.RemovedCapture, &l.Captures); err != nil {
		return wildwatch.ListingStatus{}, err
	}
	l.FirstSeen, l.LastSeen, l.LastChanged = timeFromMicros(first), timeFromMicros(last), timeFromMicros(changed)
	if removed.Valid {
		t := timeFromMicros(removed.Int64)
		l.RemovedAt = &t
	}
	return l, nil
}

// GetListing returns the status of a target's listing.
func (c *Catalog) GetListing(ctx context.Context, target, url string) (wildwatch.ListingStatus, error) {
	l, err := scanListing(c.db.QueryRowContext(ctx, listingSelect+` WHERE target = $1 AND url = $2`, target, url))
	if errors.Is(err, sql.ErrNoRows) {
		return wildwatch.ListingStatus{}, fmt.Errorf("listing %s of target %s: %w", url, target, ErrNotFound)
	}
	if err != nil {
		return wildwatch.ListingStatus{}, fmt.Errorf("getting listing %s: %w", url, err)
	}
	return l, nil
}

// ListingFilter selects listings. Zero fields do not filter.
type ListingFilter struct {
	Target string
	URL    string
	// ListingID keeps the listings whose page gave this ID.
	ListingID string
	// State is wildwatch.ListingActive or ListingRemoved.
	State string
	// After keeps the listings whose URL sorts after it, for paging in URL
	// order.
	After string
	// Limit bounds the listings returned (default 100, at most 1000).
	Limit int
}

// ListListings returns listings in (URL, target) order.
func (c *Catalog) ListListings(ctx context.Context, f ListingFilter) ([]wildwatch.ListingStatus, error) {
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("listing listings: %w", err)
	}
	if f.State != "" && f.State != wildwatch.ListingActive && f.State != wildwatch.ListingRemoved {
		return nil, fmt.Errorf("listing listings: state %q: %w", f.State, ErrInvalid)
	}
	var w sqlWhere
	for _, eq := range []struct{ column, v string }{
		{"target", f.Target}, {"url", f.URL}, {"listing_id", f.ListingID}, {"state", f.State},
	} {
		if eq.v != "" {
			w.add(eq.column+" = ?", eq.v)
		}
	}
	if f.After != "" {
		w.add("url > ?", f.After)
	}
	q := listingSelect + w.String() + ` ORDER BY url, target LIMIT ` + w.arg(limit)
	rows, err := c.db.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing listings: %w", err)
	}
	defer rows.Close()
	ls := []wildwatch.ListingStatus{}
	for rows.Next() {
		l, err := scanListing(rows)
		if err != nil {
			return nil, fmt.Errorf("listing listings: %w", err)
		}
		ls = append(ls, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing listings: %w", err)
	}
	return ls, nil
}

// EachActiveListing calls fn with the URL of every active listing of a
// target, in URL order, a page at a time, holding no connection while fn
// runs. It stops at fn's first error and returns it as it is.
func (c *Catalog) EachActiveListing(ctx context.Context, target string, fn func(url string) error) error {
	size := min(cmp.Or(c.pageSize, defaultPageSize), 1000)
	after := ""
	for {
		page, err := c.ListListings(ctx, ListingFilter{Target: target, State: wildwatch.ListingActive, After: after, Limit: size})
		if err != nil {
			return err
		}
		for _, l := range page {
			if err := fn(l.URL); err != nil {
				return err
			}
		}
		if len(page) < size {
			return nil
		}
		after = page[len(page)-1].URL
	}
}

// ListingHistory returns the captures of a listing URL in the order they
// were fetched (then by ID), of one target or, when target is empty, of
// every target that captured the URL.
func (c *Catalog) ListingHistory(ctx context.Context, target, url string) ([]CaptureRecord, error) {
	var w sqlWhere
	w.add("url = ?", url)
	if target != "" {
		w.add("target = ?", target)
	}
	rs, err := c.queryCaptures(ctx, captureSelect+w.String()+` ORDER BY fetched_at, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("reading history of %s: %w", url, err)
	}
	return rs, nil
}

// PreviousCapture returns the newest capture of a target's listing URL that
// showed the listing (not a removal) and is not the capture excludeID; for
// comparing a new capture with. ErrNotFound when there is none.
func (c *Catalog) PreviousCapture(ctx context.Context, target, url, excludeID string) (CaptureRecord, error) {
	rec, err := scanCapture(c.db.QueryRowContext(ctx, captureSelect+` WHERE target = $1 AND url = $2 AND id <> $3
		AND change <> 'removed' ORDER BY fetched_at DESC, id DESC LIMIT 1`, target, url, excludeID))
	if errors.Is(err, sql.ErrNoRows) {
		return CaptureRecord{}, fmt.Errorf("capture of %s before %s: %w", url, excludeID, ErrNotFound)
	}
	if err != nil {
		return CaptureRecord{}, fmt.Errorf("getting capture of %s before %s: %w", url, excludeID, err)
	}
	return rec, nil
}

// FlaggedBefore reports whether a capture of the target's listing URL
// other than captureID, with the same content digest, was flagged already,
// whatever became of the flag. An empty digest was never flagged.
func (c *Catalog) FlaggedBefore(ctx context.Context, target, url, contentDigest, captureID string) (bool, error) {
	if contentDigest == "" {
		return false, nil
	}
	var one int
	err := c.db.QueryRowContext(ctx, `SELECT 1 FROM flags f JOIN captures p ON p.id = f.capture_id
		WHERE p.url = $1 AND p.target = $2 AND p.content_digest = $3 AND p.id <> $4 LIMIT 1`,
		url, target, contentDigest, captureID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking for flags of %s: %w", url, err)
	}
	return true, nil
}

// CountFoundListings counts the listing tasks of a sweep that were found
// on its index pages (SweepTask.Page, the index page number, above 0), in
// any state; the listings a sweep checks again because earlier sweeps
// captured them (Page 0) are not counted.
func (c *Catalog) CountFoundListings(ctx context.Context, sweepID string) (int, error) {
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sweep_tasks WHERE sweep_id = $1 AND kind = 'listing' AND page > 0`,
		sweepID).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting listings found by sweep %s: %w", sweepID, err)
	}
	return n, nil
}
