package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// CaptureRecord is what the catalog keeps of a capture: its metadata (Body
// and Text are not stored, nor Rendered's DOM and Screenshot, which are
// evidence objects), the listing read from it, the verdict on it and where
// its evidence lies. How the page was fetched is Capture.Mode and
// Capture.ModeReason.
type CaptureRecord struct {
	Capture wildwatch.Capture `json:"capture"`
	Listing wildwatch.Listing `json:"listing"`
	Verdict wildwatch.Verdict `json:"verdict"`
	// StaticListing is what static extraction found before the page was
	// rendered, to show beside Listing; nil when there was no static try.
	StaticListing *wildwatch.Listing `json:"static_listing,omitempty"`
	// ManifestKey and WARCKey are evidence keys; WARCSHA256 is the WARC
	// object's SHA-256 in hex.
	ManifestKey string `json:"manifest_key"`
	WARCKey     string `json:"warc_key"`
	WARCSHA256  string `json:"warc_sha256"`
	// ScreenshotKey and DOMKey are the evidence keys of a rendered
	// capture's screenshot (PNG) and rendered DOM (HTML); empty when there
	// is none.
	ScreenshotKey string `json:"screenshot_key,omitempty"`
	DOMKey        string `json:"dom_key,omitempty"`
	// Change is how the capture compares with the capture of the same
	// listing before it: wildwatch.ChangeNew, ChangeChanged,
	// ChangeUnchanged or ChangeRemoved; empty for captures recorded before
	// changes were tracked.
	Change string `json:"change,omitempty"`
	// PayloadDigest is the WARC payload digest of the response body,
	// "sha256:<hex>" (PayloadDigest(Capture.Body)); ContentDigest is
	// ContentDigest of the capture, which an unchanged capture shares with
	// the one before it.
	PayloadDigest string `json:"payload_digest,omitempty"`
	ContentDigest string `json:"content_digest,omitempty"`
	// RefersTo is, for a capture whose WARC records its response as a
	// revisit, the ID of the capture whose WARC holds that response in
	// full; empty when the capture's own WARC holds it.
	RefersTo string `json:"refers_to,omitempty"`
}

// SetEvidence sets r's evidence keys from the manifest Evidence.Record
// returned: ManifestKey, WARCKey and WARCSHA256, ScreenshotKey and DOMKey
// (which may be an earlier capture's, when the bytes were the same), and
// RefersTo, the capture whose WARC a revisit record refers to ("" when the
// manifest names no revisited manifest).
func (r *CaptureRecord) SetEvidence(m *Manifest) {
	r.ManifestKey = ManifestKey(m.SweepID, m.CaptureID)
	r.RefersTo = ""
	for _, o := range m.Objects {
		switch o.Role {
		case RoleWARC:
			r.WARCKey, r.WARCSHA256 = o.Key, o.SHA256
		case RoleScreenshot:
			r.ScreenshotKey = o.Key
		case RoleDOM:
			r.DOMKey = o.Key
		case RoleRevisitedManifest:
			r.RefersTo = strings.TrimSuffix(path.Base(o.Key), manifestSuffix)
		}
	}
}

// PutCapture records a capture and brings its listing's status (see
// Listing) up to date in the same transaction. Capture.ID and
// Capture.SweepID are required. A capture whose ID is stored already is left
// as it is and added is false, so a retried task may put it again.
// ErrNotFound when the sweep is unknown.
func (c *Catalog) PutCapture(ctx context.Context, r CaptureRecord) (added bool, err error) {
	args, err := captureArgs(r)
	if err != nil {
		return false, err
	}
	return c.putCapture(ctx, r.Capture, args, r.Listing.ID)
}

// putCapture is PutCapture of the capture cp, whose captureInsert
// arguments are args.
func (c *Catalog) putCapture(ctx context.Context, cp wildwatch.Capture, args []any, listingID string) (added bool, err error) {
	if c.pipelined() {
		added, err = c.putCapturePG(ctx, args, cp.Target, cp.URL, listingID, nil)
	} else {
		err = c.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, captureInsert, args...)
			if err != nil {
				return err
			}
			n, err := rowsAffected(res)
			if err != nil || n == 0 {
				return err
			}
			added = true
			return refreshListing(ctx, tx, cp.Target, cp.URL, listingID)
		})
	}
	if err != nil {
		return false, captureError(cp, err)
	}
	return added, nil
}

// captureError wraps an error putting capture cp.
func captureError(cp wildwatch.Capture, err error) error {
	if isForeignKeyViolation(err) {
		return fmt.Errorf("putting capture %s: sweep %s: %w", cp.ID, cp.SweepID, ErrNotFound)
	}
	return fmt.Errorf("putting capture %s: %w", cp.ID, err)
}

// captureArgs checks r and returns the arguments of captureInsert for it.
func captureArgs(r CaptureRecord) ([]any, error) {
	cp := r.Capture
	if cp.ID == "" || cp.SweepID == "" {
		return nil, fmt.Errorf("putting capture %q: id and sweep id are required: %w", cp.ID, ErrInvalid)
	}
	switch r.Change {
	case "", wildwatch.ChangeNew, wildwatch.ChangeChanged, wildwatch.ChangeUnchanged, wildwatch.ChangeRemoved:
	default:
		return nil, fmt.Errorf("putting capture %s: change %q: %w", cp.ID, r.Change, ErrInvalid)
	}
	cp.Body, cp.Text = nil, ""
	meta, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	listing, err := json.Marshal(r.Listing)
	if err != nil {
		return nil, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	verdict, err := json.Marshal(r.Verdict)
	if err != nil {
		return nil, fmt.Errorf("putting capture %s: %w", cp.ID, err)
	}
	var static sql.NullString
	if r.StaticListing != nil {
		b, err := json.Marshal(r.StaticListing)
		if err != nil {
			return nil, fmt.Errorf("putting capture %s: %w", cp.ID, err)
		}
		static = sql.NullString{String: string(b), Valid: true}
	}
	return []any{cp.ID, cp.SweepID, cp.Target, cp.URL, unixMicros(cp.FetchedAt), string(meta), string(listing), string(verdict),
		r.ManifestKey, r.WARCKey, r.WARCSHA256, r.ScreenshotKey, r.DOMKey, static, unixMicros(catalogNow()),
		r.Change, r.PayloadDigest, r.ContentDigest, r.RefersTo}, nil
}

// captureInsert stores a capture unless its ID is stored already.
const captureInsert = `INSERT INTO captures
	(id, sweep_id, target, url, fetched_at, meta, listing, verdict, manifest_key, warc_key, warc_sha256,
	 screenshot_key, dom_key, static_listing, created_at, change, payload_digest, content_digest, refers_to)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
	ON CONFLICT (id) DO NOTHING`

const captureSelect = `SELECT meta, listing, verdict, manifest_key, warc_key, warc_sha256,
	screenshot_key, dom_key, static_listing, change, payload_digest, content_digest, refers_to FROM captures`

func scanCapture(r rowScanner) (CaptureRecord, error) {
	var meta, listing, verdict string
	var static sql.NullString
	var rec CaptureRecord
	if err := r.Scan(&meta, &listing, &verdict, &rec.ManifestKey, &rec.WARCKey, &rec.WARCSHA256,
		&rec.ScreenshotKey, &rec.DOMKey, &static, &rec.Change, &rec.PayloadDigest, &rec.ContentDigest, &rec.RefersTo); err != nil {
		return CaptureRecord{}, err
	}
	if static.Valid {
		rec.StaticListing = new(wildwatch.Listing)
		if err := json.Unmarshal([]byte(static.String), rec.StaticListing); err != nil {
			return CaptureRecord{}, fmt.Errorf("decoding static listing: %w", err)
		}
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
// none for an unknown sweep. An empty sweepID lists every capture, every
// one in memory at once; backtests over stored listings use
// EachCaptureListing instead.
func (c *Catalog) ListCaptures(ctx context.Context, sweepID string) ([]CaptureRecord, error) {
	var w sqlWhere
	if sweepID != "" {
		w.add("sweep_id = ?", sweepID)
	}
	rs, err := c.queryCaptures(ctx, captureSelect+w.String()+` ORDER BY fetched_at, id`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing captures of sweep %q: %w", sweepID, err)
	}
	return rs, nil
}

// EachCaptureListing calls fn with the newest capture of every URL in the
// catalog that showed its listing (by FetchedAt, then ID; captures of a
// removed listing's page are not listings), one call per URL, in URL order, for
// backtests over stored listings. It reads the captures a page at a time
// and holds no connection while fn runs, so fn may use the catalog and a
// long backtest does not keep other callers waiting; a capture stored
// meanwhile is seen when its URL sorts after the page being read. It stops
// at fn's first error and returns that error as it is.
func (c *Catalog) EachCaptureListing(ctx context.Context, fn func(rec CaptureRecord) error) error {
	size := cmp.Or(c.pageSize, defaultPageSize)
	// A capture is its URL's newest when no capture of the URL is newer;
	// captures_url (url, fetched_at) serves both the scan and the check.
	const newest = ` AS c WHERE c.change <> 'removed' AND NOT EXISTS (SELECT 1 FROM captures n
		WHERE n.url = c.url AND n.change <> 'removed'
		AND (n.fetched_at > c.fetched_at OR (n.fetched_at = c.fetched_at AND n.id > c.id)))`
	var after *string // the last URL of the page before
	for {
		var w sqlWhere
		q := captureSelect + newest
		if after != nil {
			q += ` AND c.url > ` + w.arg(*after)
		}
		q += ` ORDER BY c.url LIMIT ` + w.arg(size)
		page, err := c.queryCaptures(ctx, q, w.args...)
		if err != nil {
			return fmt.Errorf("reading capture listings: %w", err)
		}
		for _, rec := range page {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if len(page) < size {
			return nil
		}
		last := page[len(page)-1].Capture.URL
		after = &last
	}
}

// queryCaptures runs a query of captureSelect and reads every row.
func (c *Catalog) queryCaptures(ctx context.Context, q string, args ...any) ([]CaptureRecord, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rs := []CaptureRecord{}
	for rows.Next() {
		rec, err := scanCapture(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return rs, nil
}
