package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// CreateSweep records a new sweep of t. The sweep keeps a copy of t, so that
// editing the target later does not change what the sweep was started with
// (see SweepTarget). s.ID is required; s.Target defaults to t.Name and must
// equal it when set; s.Status defaults to queued and s.CreatedAt to now.
// Creating a sweep whose ID exists already changes nothing and is not an
// error, so a retried task may call it again.
func (c *Catalog) CreateSweep(ctx context.Context, s wildwatch.Sweep, t wildwatch.Target) error {
	if s.ID == "" {
		return fmt.Errorf("creating sweep: empty id: %w", ErrInvalid)
	}
	if s.Target == "" {
		s.Target = t.Name
	}
	if s.Target == "" || s.Target != t.Name {
		return fmt.Errorf("creating sweep %s: sweep target %q and target %q differ: %w", s.ID, s.Target, t.Name, ErrInvalid)
	}
	if s.Status == "" {
		s.Status = wildwatch.SweepQueued
	}
	if !validSweepStatus(s.Status) {
		return fmt.Errorf("creating sweep %s: status %q: %w", s.ID, s.Status, ErrInvalid)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = catalogNow()
	}
	if _, err := insertSweep(ctx, c.db, s, t); err != nil {
		return fmt.Errorf("creating sweep %s: %w", s.ID, err)
	}
	return nil
}

// execer is what *sql.DB and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertSweep inserts a checked sweep unless its ID exists; added reports
// whether it did.
func insertSweep(ctx context.Context, db execer, s wildwatch.Sweep, t wildwatch.Target) (added bool, err error) {
	var finished sql.NullInt64
	if s.FinishedAt != nil {
		finished = sql.NullInt64{Int64: unixMicros(*s.FinishedAt), Valid: true}
	}
	spec, err := json.Marshal(t)
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, `INSERT INTO sweeps (id, target, status, created_at, updated_at, finished_at, target_spec)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		s.ID, s.Target, s.Status, unixMicros(s.CreatedAt), unixMicros(catalogNow()), finished, string(spec))
	if err != nil {
		return false, err
	}
	n, err := rowsAffected(res)
	return n == 1, err
}

// SweepTarget returns the target as it was when the sweep was created.
func (c *Catalog) SweepTarget(ctx context.Context, sweepID string) (wildwatch.Target, error) {
	c.sweepSpecsMu.Lock()
	spec, ok := c.sweepSpecs[sweepID]
	c.sweepSpecsMu.Unlock()
	if !ok {
		err := c.db.QueryRowContext(ctx, `SELECT target_spec FROM sweeps WHERE id = $1`, sweepID).Scan(&spec)
		if errors.Is(err, sql.ErrNoRows) {
			return wildwatch.Target{}, fmt.Errorf("sweep %s: %w", sweepID, ErrNotFound)
		}
		if err != nil {
			return wildwatch.Target{}, fmt.Errorf("getting target of sweep %s: %w", sweepID, err)
		}
		c.sweepSpecsMu.Lock()
		if c.sweepSpecs == nil || len(c.sweepSpecs) >= maxCachedSweepSpecs {
			c.sweepSpecs = make(map[string]string)
		}
		c.sweepSpecs[sweepID] = spec
		c.sweepSpecsMu.Unlock()
	}
	// Decoded each time, so that no caller shares another's target.
	t, err := decodeTarget(spec)
	if err != nil {
		return wildwatch.Target{}, fmt.Errorf("getting target of sweep %s: %w", sweepID, err)
	}
	return t, nil
}

// maxCachedSweepSpecs bounds the sweeps whose target spec a Catalog keeps.
const maxCachedSweepSpecs = 256

// sweepSelect reads sweeps with their counts in one query: each count is a
// correlated subquery served by an index on sweep_id.
const sweepSelect = `SELECT s.id, s.target, s.status, s.created_at, s.finished_at, s.reason,
	(SELECT COUNT(*) FROM sweep_tasks t WHERE t.sweep_id = s.id AND t.kind = 'index' AND t.state = 'done'),
	(SELECT COUNT(*) FROM sweep_tasks t WHERE t.sweep_id = s.id AND t.kind = 'listing'),
	(SELECT COUNT(*) FROM captures p WHERE p.sweep_id = s.id),
	(SELECT COUNT(*) FROM flags f WHERE f.sweep_id = s.id),
	(SELECT COUNT(*) FROM sweep_errors e WHERE e.sweep_id = s.id),
	(SELECT COUNT(*) FROM sweep_tasks t WHERE t.sweep_id = s.id AND t.state = 'pending'),
	(SELECT COUNT(*) FROM captures p WHERE p.sweep_id = s.id AND p.change = 'new'),
	(SELECT COUNT(*) FROM captures p WHERE p.sweep_id = s.id AND p.change = 'changed'),
	(SELECT COUNT(*) FROM captures p WHERE p.sweep_id = s.id AND p.change = 'unchanged'),
	(SELECT COUNT(*) FROM captures p WHERE p.sweep_id = s.id AND p.change = 'removed'),
	(SELECT COUNT(*) FROM listing_checks k WHERE k.sweep_id = s.id),
	(SELECT COUNT(*) FROM sweep_tasks t WHERE t.sweep_id = s.id AND t.state = 'parked'),
	(SELECT COUNT(*) FROM sweep_tasks t WHERE t.sweep_id = s.id AND t.state = 'cancelled')
	FROM sweeps s`

func scanSweep(r rowScanner) (wildwatch.Sweep, error) {
	var s wildwatch.Sweep
	var created int64
	var finished sql.NullInt64
	err := r.Scan(&s.ID, &s.Target, &s.Status, &created, &finished, &s.Reason,
		&s.Counts.Pages, &s.Counts.Listings, &s.Counts.Captures, &s.Counts.Flags, &s.Counts.Errors, &s.Counts.Pending,
		&s.Counts.New, &s.Counts.Changed, &s.Counts.Unchanged, &s.Counts.Removed,
		&s.Counts.Checked, &s.Counts.Parked, &s.Counts.Cancelled)
	if err != nil {
		return wildwatch.Sweep{}, err
	}
	s.CreatedAt = timeFromMicros(created)
	if finished.Valid {
		t := timeFromMicros(finished.Int64)
		s.FinishedAt = &t
	}
	return s, nil
}

// GetSweep returns the sweep with its counts:
// Pages are index tasks done, Listings listing tasks in any state, Captures,
// Flags and Errors the rows recorded for the sweep (ErrorsByKind the errors
// by kind), Pending the tasks queued or running, Parked and Cancelled the
// tasks in those states, New, Changed, Unchanged and Removed the captures
// by their change, and Checked the listing checks.
func (c *Catalog) GetSweep(ctx context.Context, id string) (wildwatch.Sweep, error) {
	s, err := scanSweep(c.db.QueryRowContext(ctx, sweepSelect+` WHERE s.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return wildwatch.Sweep{}, fmt.Errorf("sweep %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return wildwatch.Sweep{}, fmt.Errorf("getting sweep %s: %w", id, err)
	}
	ss := []wildwatch.Sweep{s}
	if err := c.errorsByKind(ctx, ss); err != nil {
		return wildwatch.Sweep{}, fmt.Errorf("getting sweep %s: %w", id, err)
	}
	return ss[0], nil
}

// errorsByKind fills Counts.ErrorsByKind of the sweeps that have errors.
func (c *Catalog) errorsByKind(ctx context.Context, ss []wildwatch.Sweep) error {
	var w sqlWhere
	at := map[string]int{}
	var ids []string
	for i, s := range ss {
		if s.Counts.Errors > 0 {
			at[s.ID] = i
			ids = append(ids, w.arg(s.ID))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT sweep_id, kind, COUNT(*) FROM sweep_errors
		WHERE sweep_id IN (`+strings.Join(ids, ", ")+`) GROUP BY sweep_id, kind`, w.args...)
	if err != nil {
		return fmt.Errorf("counting errors by kind: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind string
		var n int
		if err := rows.Scan(&id, &kind, &n); err != nil {
			return fmt.Errorf("counting errors by kind: %w", err)
		}
		s := &ss[at[id]]
		if s.Counts.ErrorsByKind == nil {
			s.Counts.ErrorsByKind = map[string]int{}
		}
		s.Counts.ErrorsByKind[kind] = n
	}
	return rows.Err()
}

// SweepFilter selects sweeps. Zero fields do not filter.
type SweepFilter struct {
	// Target keeps the sweeps of one target.
	Target string
	// Limit bounds the sweeps returned (default 100, at most 1000).
	Limit int
}

// ListSweeps returns sweeps, newest first, with their counts.
func (c *Catalog) ListSweeps(ctx context.Context, f SweepFilter) ([]wildwatch.Sweep, error) {
	limit, err := pageLimit(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("listing sweeps: %w", err)
	}
	var w sqlWhere
	if f.Target != "" {
		w.add("s.target = ?", f.Target)
	}
	q := sweepSelect + w.String() + ` ORDER BY s.created_at DESC, s.id DESC LIMIT ` + w.arg(limit)
	rows, err := c.db.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing sweeps: %w", err)
	}
	defer rows.Close()
	ss := []wildwatch.Sweep{}
	for rows.Next() {
		s, err := scanSweep(rows)
		if err != nil {
			return nil, fmt.Errorf("listing sweeps: %w", err)
		}
		ss = append(ss, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing sweeps: %w", err)
	}
	if err := c.errorsByKind(ctx, ss); err != nil {
		return nil, fmt.Errorf("listing sweeps: %w", err)
	}
	return ss, nil
}

// SetSweepStatus sets a sweep's status, whatever it was (PauseSweep,
// ResumeSweep and CancelSweep move a sweep the way its tasks expect).
// Moving to finished, failed or cancelled sets FinishedAt (keeping an
// earlier one); moving to any other status clears it.
func (c *Catalog) SetSweepStatus(ctx context.Context, id, status string) error {
	if !validSweepStatus(status) {
		return fmt.Errorf("setting sweep %s status: %q: %w", id, status, ErrInvalid)
	}
	q := `UPDATE sweeps SET status = $2, updated_at = $3, finished_at = NULL WHERE id = $1`
	if wildwatch.SweepEnded(status) {
		q = `UPDATE sweeps SET status = $2, updated_at = $3, finished_at = COALESCE(finished_at, $3) WHERE id = $1`
	}
	res, err := c.db.ExecContext(ctx, q, id, status, unixMicros(catalogNow()))
	if err != nil {
		return fmt.Errorf("setting sweep %s status: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("setting sweep %s status: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sweep %s: %w", id, ErrNotFound)
	}
	return nil
}

// AddSweepError records a failure on a sweep. SweepID is required; At
// defaults to now.
func (c *Catalog) AddSweepError(ctx context.Context, e wildwatch.SweepError) error {
	if e.SweepID == "" {
		return fmt.Errorf("adding sweep error: empty sweep id: %w", ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = catalogNow()
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO sweep_errors (sweep_id, url, kind, message, occurred_at) VALUES ($1, $2, $3, $4, $5)`,
		e.SweepID, e.URL, e.Kind, e.Message, unixMicros(e.At))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("adding sweep error: sweep %s: %w", e.SweepID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("adding error to sweep %s: %w", e.SweepID, err)
	}
	return nil
}

// SweepErrors returns the errors recorded on a sweep, oldest first; none
// for an unknown sweep.
func (c *Catalog) SweepErrors(ctx context.Context, sweepID string) ([]wildwatch.SweepError, error) {
	es, err := queryAll(ctx, c.db, scanSweepError, `SELECT `+sweepErrorColumns+` FROM sweep_errors
		WHERE sweep_id = $1 ORDER BY occurred_at, url, kind, message`, sweepID)
	if err != nil {
		return nil, fmt.Errorf("listing errors of sweep %s: %w", sweepID, err)
	}
	return es, nil
}

func validSweepStatus(s string) bool {
	switch s {
	case wildwatch.SweepQueued, wildwatch.SweepRunning, wildwatch.SweepPaused,
		wildwatch.SweepFinished, wildwatch.SweepFailed, wildwatch.SweepCancelled:
		return true
	}
	return false
}
