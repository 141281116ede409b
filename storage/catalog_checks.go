package storage

import (
	"context"
	"fmt"

	"github.com/wildwatch/wildwatch"
)

// PutListingCheck records that a listing was found unchanged without a
// new capture (see wildwatch.ListingCheck). A check of the same URL in the
// same sweep exists already: it is left as it is and added is false, so a
// retried task may put it again. SweepID, URL and CaptureID are required;
// CheckedAt defaults to now. ErrNotFound when the sweep is unknown.
func (c *Catalog) PutListingCheck(ctx context.Context, k wildwatch.ListingCheck) (added bool, err error) {
	if k.SweepID == "" || k.URL == "" || k.CaptureID == "" {
		return false, fmt.Errorf("putting check of %q: sweep id, url and capture id are required: %w", k.URL, ErrInvalid)
	}
	if k.Result != wildwatch.CheckNotModified && k.Result != wildwatch.CheckSameContent {
		return false, fmt.Errorf("putting check of %s: result %q: %w", k.URL, k.Result, ErrInvalid)
	}
	if k.CheckedAt.IsZero() {
		k.CheckedAt = catalogNow()
	}
	res, err := c.db.ExecContext(ctx, `INSERT INTO listing_checks (sweep_id, target, url, capture_id, checked_at, status, result,
		if_none_match, if_modified_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sweep_id, url) DO NOTHING`,
		k.SweepID, k.Target, k.URL, k.CaptureID, unixMicros(k.CheckedAt), k.Status, k.Result, k.IfNoneMatch, k.IfModifiedSince)
	if isForeignKeyViolation(err) {
		return false, fmt.Errorf("putting check of %s: sweep %s: %w", k.URL, k.SweepID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("putting check of %s: %w", k.URL, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("putting check of %s: %w", k.URL, err)
	}
	return n == 1, nil
}

// ListingChecks returns the checks of a sweep (sweepID not empty) or of a
// target's listing URL (target and url), oldest first.
func (c *Catalog) ListingChecks(ctx context.Context, sweepID, target, url string) ([]wildwatch.ListingCheck, error) {
	var w sqlWhere
	if sweepID != "" {
		w.add("sweep_id = ?", sweepID)
	}
	if target != "" {
		w.add("target = ?", target)
	}
	if url != "" {
		w.add("url = ?", url)
	}
	if len(w.conds) == 0 {
		return nil, fmt.Errorf("listing checks: no sweep, target or url: %w", ErrInvalid)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT sweep_id, target, url, capture_id, checked_at, status, result,
		if_none_match, if_modified_since FROM listing_checks`+w.String()+` ORDER BY checked_at, url`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing checks: %w", err)
	}
	defer rows.Close()
	ks := []wildwatch.ListingCheck{}
	for rows.Next() {
		var k wildwatch.ListingCheck
		var at int64
		if err := rows.Scan(&k.SweepID, &k.Target, &k.URL, &k.CaptureID, &at, &k.Status, &k.Result,
			&k.IfNoneMatch, &k.IfModifiedSince); err != nil {
			return nil, fmt.Errorf("listing checks: %w", err)
		}
		k.CheckedAt = timeFromMicros(at)
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing checks: %w", err)
	}
	return ks, nil
}
