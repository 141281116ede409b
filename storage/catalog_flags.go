package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wildwatch/wildwatch"
)

// PutFlag records a flag, at most one per capture. CaptureID and SweepID
// are required. Empty fields take defaults: ID a short random text id,
// CreatedAt now (UTC), Status new, and Category, Score, RuleSet and URL
// those of f.Verdict and f.Listing. f.Reviews is ignored (see AddReview).
// When the capture is flagged already, nothing changes: added is false and
// the returned flag is the stored one, with its ID. ErrNotFound when the
// sweep is unknown.
func (c *Catalog) PutFlag(ctx context.Context, f wildwatch.Flag) (wildwatch.Flag, bool, error) {
	f, args, err := flagArgs(f)
	if err != nil {
		return wildwatch.Flag{}, false, err
	}
	res, err := c.db.ExecContext(ctx, `INSERT INTO flags
		(id, sweep_id, capture_id, target, url, category, score, status, rule_set, created_at, listing, verdict)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (capture_id) DO NOTHING`, args...)
	if isForeignKeyViolation(err) {
		return wildwatch.Flag{}, false, fmt.Errorf("putting flag for capture %s: sweep %s: %w", f.CaptureID, f.SweepID, ErrNotFound)
	}
	if err != nil {
		return wildwatch.Flag{}, false, fmt.Errorf("putting flag for capture %s: %w", f.CaptureID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return wildwatch.Flag{}, false, fmt.Errorf("putting flag for capture %s: %w", f.CaptureID, err)
	}
	if n == 1 {
		return f, true, nil
	}
	existing, err := c.flagWhere(ctx, "capture_id", f.CaptureID)
	if err != nil {
		return wildwatch.Flag{}, false, fmt.Errorf("putting flag for capture %s: %w", f.CaptureID, err)
	}
	return existing, false, nil
}

// flagArgs fills f's defaults, checks it and returns it with the
// arguments of its row: id, sweep, capture, target, url, category, score,
// status, rule set, created at, listing and verdict.
func flagArgs(f wildwatch.Flag) (wildwatch.Flag, []any, error) {
	if f.CaptureID == "" || f.SweepID == "" {
		return f, nil, fmt.Errorf("putting flag: capture id and sweep id are required: %w", ErrInvalid)
	}
	f = flagDefaults(f)
	if !validFlagStatus(f.Status) {
		return f, nil, fmt.Errorf("putting flag for capture %s: status %q: %w", f.CaptureID, f.Status, ErrInvalid)
	}
	listing, err := json.Marshal(f.Listing)
	if err != nil {
		return f, nil, fmt.Errorf("putting flag for capture %s: %w", f.CaptureID, err)
	}
	verdict, err := json.Marshal(f.Verdict)
	if err != nil {
		return f, nil, fmt.Errorf("putting flag for capture %s: %w", f.CaptureID, err)
	}
	return f, []any{f.ID, f.SweepID, f.CaptureID, f.Target, f.URL, f.Category, f.Score, f.Status, f.RuleSet,
		unixMicros(f.CreatedAt), string(listing), string(verdict)}, nil
}

func flagDefaults(f wildwatch.Flag) wildwatch.Flag {
	if f.ID == "" {
		f.ID = newCatalogID()
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = catalogNow()
	}
	f.CreatedAt = f.CreatedAt.UTC().Truncate(time.Microsecond)
	if f.Status == "" {
		f.Status = wildwatch.FlagNew
	}
	if f.Category == "" {
		f.Category = f.Verdict.Category
	}
	if f.Score == 0 {
		f.Score = f.Verdict.Score
	}
	if f.RuleSet == "" {
		f.RuleSet = f.Verdict.RuleSet
	}
	if f.URL == "" {
		f.URL = f.Listing.URL
	}
	f.Reviews = nil
	return f
}

const flagSelect = `SELECT id, sweep_id, capture_id, target, url, category, score, status, rule_set, created_at, listing, verdict FROM flags`

func scanFlag(r rowScanner) (wildwatch.Flag, error) {
	var f wildwatch.Flag
	var created int64
	var listing, verdict string
	err := r.Scan(&f.ID, &f.SweepID, &f.CaptureID, &f.Target, &f.URL, &f.Category, &f.Score, &f.Status, &f.RuleSet,
		&created, &listing, &verdict)
	if err != nil {
		return wildwatch.Flag{}, err
	}
	f.CreatedAt = timeFromMicros(created)
	if err := json.Unmarshal([]byte(listing), &f.Listing); err != nil {
		return wildwatch.Flag{}, fmt.Errorf("decoding listing: %w", err)
	}
	if err := json.Unmarshal([]byte(verdict), &f.Verdict); err != nil {
		return wildwatch.Flag{}, fmt.Errorf("decoding verdict: %w", err)
	}
	return f, nil
}

// GetFlag returns a flag with its listing, verdict and reviews.
func (c *Catalog) GetFlag(ctx context.Context, id string) (wildwatch.Flag, error) {
	f, err := c.flagWhere(ctx, "id", id)
	if err != nil {
		return wildwatch.Flag{}, fmt.Errorf("getting flag %s: %w", id, err)
	}
	return f, nil
}

// flagWhere returns the flag whose column (id or capture_id) is v, with
// its reviews.
func (c *Catalog) flagWhere(ctx context.Context, column, v string) (wildwatch.Flag, error) {
	f, err := scanFlag(c.db.QueryRowContext(ctx, flagSelect+` WHERE `+column+` = $1`, v))
	if errors.Is(err, sql.ErrNoRows) {
		return wildwatch.Flag{}, fmt.Errorf("flag: %w", ErrNotFound)
	}
	if err != nil {
		return wildwatch.Flag{}, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT decision, note, reviewer, reviewed_at FROM reviews WHERE flag_id = $1 ORDER BY seq`, f.ID)
	if err != nil {
		return wildwatch.Flag{}, fmt.Errorf("reading reviews: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r := wildwatch.Review{FlagID: f.ID}
		var at int64
		if err := rows.Scan(&r.Decision, &r.Note, &r.Reviewer, &at); err != nil {
			return wildwatch.Flag{}, fmt.Errorf("reading reviews: %w", err)
		}
		r.At = timeFromMicros(at)
		f.Reviews = append(f.Reviews, r)
	}
	if err := rows.Err(); err != nil {
		return wildwatch.Flag{}, fmt.Errorf("reading reviews: %w", err)
	}
	return f, nil
}

// FlagFilter selects flags. Zero fields do not filter.
type FlagFilter struct {
	Target   string
	Category string
	Status   string
	SweepID  string
	// Since and Until bound CreatedAt: Since ≤ CreatedAt < Until.
	Since time.Time
	Until time.Time
	// Limit bounds the flags returned (default 100, at most 1000); Offset
	// skips that many first.
	Limit  int
	Offset int
}

// ListFlags returns flags, newest first, with their listing and verdict
// but without reviews (GetFlag has them).
func (c *Catalog) ListFlags(ctx context.Context, f FlagFilter) ([]wildwatch.Flag, error) {
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("listing flags: %w", err)
	}
	if f.Offset < 0 {
		return nil, fmt.Errorf("listing flags: offset %d: %w", f.Offset, ErrInvalid)
	}
	var w sqlWhere
	for _, eq := range []struct{ column, v string }{
		{"target", f.Target}, {"category", f.Category}, {"status", f.Status}, {"sweep_id", f.SweepID},
	} {
		if eq.v != "" {
			w.add(eq.column+" = ?", eq.v)
		}
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", unixMicros(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("created_at < ?", unixMicros(f.Until))
	}
	q := flagSelect + w.String() + ` ORDER BY created_at DESC, id DESC LIMIT ` + w.arg(limit) + ` OFFSET ` + w.arg(f.Offset)
	rows, err := c.db.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing flags: %w", err)
	}
	defer rows.Close()
	fs := []wildwatch.Flag{}
	for rows.Next() {
		fl, err := scanFlag(rows)
		if err != nil {
			return nil, fmt.Errorf("listing flags: %w", err)
		}
		fs = append(fs, fl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing flags: %w", err)
	}
	return fs, nil
}

// AddReview appends a review to its flag and sets the flag's status to the
// review's decision, which must be wildwatch.FlagConfirmed, FlagDismissed
// or FlagReview (else ErrInvalid). Reviewer is required; At defaults to
// now. It returns the flag as it now stands; ErrNotFound for an unknown
// flag.
func (c *Catalog) AddReview(ctx context.Context, r wildwatch.Review) (wildwatch.Flag, error) {
	if !wildwatch.ValidDecision(r.Decision) {
		return wildwatch.Flag{}, fmt.Errorf("reviewing flag %s: decision %q: %w", r.FlagID, r.Decision, ErrInvalid)
	}
	if r.FlagID == "" || r.Reviewer == "" {
		return wildwatch.Flag{}, fmt.Errorf("reviewing flag %q: flag id and reviewer are required: %w", r.FlagID, ErrInvalid)
	}
	if r.At.IsZero() {
		r.At = catalogNow()
	}
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		// Updating the flag first locks it (PostgreSQL), so concurrent
		// reviews of one flag number themselves in turn.
		res, err := tx.ExecContext(ctx, `UPDATE flags SET status = $2 WHERE id = $1`, r.FlagID, r.Decision)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("flag: %w", ErrNotFound)
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM reviews WHERE flag_id = $1`, r.FlagID).Scan(&seq); err != nil {
			return fmt.Errorf("numbering review: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO reviews (flag_id, seq, decision, note, reviewer, reviewed_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, r.FlagID, seq, r.Decision, r.Note, r.Reviewer, unixMicros(r.At))
		return err
	})
	if err != nil {
		return wildwatch.Flag{}, fmt.Errorf("reviewing flag %s: %w", r.FlagID, err)
	}
	return c.GetFlag(ctx, r.FlagID)
}

func validFlagStatus(s string) bool {
	switch s {
	case wildwatch.FlagNew, wildwatch.FlagConfirmed, wildwatch.FlagDismissed, wildwatch.FlagReview:
		return true
	}
	return false
}
