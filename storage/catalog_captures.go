package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wildwatch/wildwatch"
)

// CaptureRecord is what the catalog keeps of a capture: its metadata (Body
// and Text are not stored), the listing read from it, the verdict on it and
// where its evidence lies.
type CaptureRecord struct {
	Capture wildwatch.Capture `json:"capture"`
	Listing wildwatch.Listing `json:"listing"`
	Verdict wildwatch.Verdict `json:"verdict"`
	// ManifestKey and WARCKey are evidence keys; WARCSHA256 is the WARC
	// object's SHA-256 in hex.
	ManifestKey string `json:"manifest_key"`
	WARCKey     string `json:"warc_key"`
	WARCSHA256  string `json:"warc_sha256"`
}

// PutCapture records a capture. Capture.ID and Capture.SweepID are
// required. A capture whose ID is stored already is left as it is and added
// is false, so a retried task may put it again. ErrNotFound when the sweep
// is unknown.
func (c *Catalog) PutCapture(ctx context.Context, r CaptureRecord) (added bool, err error) {
	cp := r.Capture
	if cp.ID == "" || cp.SweepID == "" {
		return false, fmt.Errorf("putting capture %q: id and sweep id are required: %w", cp.ID, ErrInvalid)
	}
	cp.Body, cp.Text = nil, ""
	meta, err := json.Marshal(cp)
	if err != nil {
		return false, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	listing, err := json.Marshal(r.Listing)
	if err != nil {
		return false, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	verdict, err := json.Marshal(r.Verdict)
	if err != nil {
		return false, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	res, err := c.db.ExecContext(ctx, `INSERT INTO captures
		(id, sweep_id, target, url, fetched_at, meta, listing, verdict, manifest_key, warc_key, warc_sha256, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
		cp.ID, cp.SweepID, cp.Target, cp.URL, unixMicros(cp.FetchedAt), string(meta), string(listing), string(verdict),
		r.ManifestKey, r.WARCKey, r.WARCSHA256, unixMicros(catalogNow()))
	if isForeignKeyViolation(err) {
		return false, fmt.Errorf("putting capture %s: sweep %s: %w", cp.ID, cp.SweepID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	return n == 1, nil
}

const captureSelect = `SELECT meta, listing, verdict, manifest_key, warc_key, warc_sha256 FROM captures`

func scanCapture(r rowScanner) (CaptureRecord, error) {
	var meta, listing, verdict string
	var rec CaptureRecord
	if err := r.Scan(&meta, &listing, &verdict, &rec.ManifestKey, &rec.WARCKey, &rec.WARCSHA256); err != nil {
		return CaptureRecord{}, err
	}
	if err := json.Unmarshal([]byte(meta), &rec.Capture); err != nil {
		return CaptureRecord{}, fmt.Errorf("decoding capture: %w", err)
	}
	if err := json.Unmarshal([]byte(listing), &rec.Listing); err != nil {
		return CaptureRecord{}, fmt.Errorf("decoding listing: %w", err)
	}
	if err := json.Unmarshal([]byte(verdict), &rec.Verdict); err != nil {
		return CaptureRecord{}, fmt.Errorf("decoding verdict: %w", err)
	}
	return rec, nil
}

// GetCapture returns the capture stored under id.
func (c *Catalog) GetCapture(ctx context.Context, id string) (CaptureRecord, error) {
	rec, err := scanCapture(c.db.QueryRowContext(ctx, captureSelect+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return CaptureRecord{}, fmt.Errorf("capture %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return CaptureRecord{}, fmt.Errorf("getting capture %s: %w", id, err)
	}
	return rec, nil
}

// ListCaptures returns a sweep's captures in the order they were fetched;
// none for an unknown sweep. An empty sweepID lists every capture (for
// backtests over stored listings).
func (c *Catalog) ListCaptures(ctx context.Context, sweepID string) ([]CaptureRecord, error) {
	var w sqlWhere
	if sweepID != "" {
		w.add("sweep_id = ?", sweepID)
	}
	rows, err := c.db.QueryContext(ctx, captureSelect+w.String()+` ORDER BY fetched_at, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing captures of sweep %q: %w", sweepID, err)
	}
	defer rows.Close()
	rs := []CaptureRecord{}
	for rows.Next() {
		rec, err := scanCapture(rows)
		if err != nil {
			return nil, fmt.Errorf("listing captures of sweep %q: %w", sweepID, err)
		}
		rs = append(rs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing captures of sweep %q: %w", sweepID, err)
	}
	return rs, nil
}
