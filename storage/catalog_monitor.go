package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wildwatch/wildwatch"
)

// Queries for the monitors' dashboard: pages of sweeps and their errors, a
// sweep's task progress, and the aggregates its charts draw.

// microsPerDay is one UTC day in the catalog's unit of time; dayMicros
// is the same number in SQL.
const (
	microsPerDay = int64(24 * time.Hour / time.Microsecond)
	dayMicros    = "86400000000"
)

// SweepPage selects a page of sweeps. Zero fields do not filter.
type SweepPage struct {
	// Target keeps the sweeps of one target.
	Target string
	// Status keeps the sweeps in one status.
	Status string
	// Active keeps the sweeps that have not ended (queued, running or
	// paused), read in one statement so that a sweep changing status
	// meanwhile is still seen once.
	Active bool
	// Limit bounds the sweeps returned (default 100, at most 1000).
	Limit int
	// Offset skips that many sweeps first.
	Offset int
}

// ListSweepPage returns one page of sweeps, newest first, with their
// counts, and how many sweeps the filter selects in all.
func (c *Catalog) ListSweepPage(ctx context.Context, f SweepPage) ([]wildwatch.Sweep, int, error) {
	limit, err := pageWindow(f.Limit, f.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("listing sweeps: %w", err)
	}
	var w sqlWhere
	if f.Target != "" {
		w.add("s.target = ?", f.Target)
	}
	if f.Status != "" {
		w.add("s.status = ?", f.Status)
	}
	if f.Active {
		w.conds = append(w.conds, "s.status IN ("+w.arg(wildwatch.SweepQueued)+", "+w.arg(wildwatch.SweepRunning)+", "+w.arg(wildwatch.SweepPaused)+")")
	}
	var total int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sweeps s`+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting sweeps: %w", err)
	}
	q := sweepSelect + w.String() + ` ORDER BY s.created_at DESC, s.id DESC LIMIT ` + w.arg(limit) + ` OFFSET ` + w.arg(f.Offset)
	ss, err := queryAll(ctx, c.db, scanSweep, q, w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("listing sweeps: %w", err)
	}
	if err := c.errorsByKind(ctx, ss); err != nil {
		return nil, 0, fmt.Errorf("listing sweeps: %w", err)
	}
	return ss, total, nil
}

// SweepErrorPage returns one page of a sweep's errors, newest first, and
// how many the sweep has in all. limit defaults to 100 (at most 1000).
func (c *Catalog) SweepErrorPage(ctx context.Context, sweepID string, limit, offset int) ([]wildwatch.SweepError, int, error) {
	limit, err := pageWindow(limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("listing errors of sweep %s: %w", sweepID, err)
	}
	var total int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sweep_errors WHERE sweep_id = $1`, sweepID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting errors of sweep %s: %w", sweepID, err)
	}
	es, err := queryAll(ctx, c.db, scanSweepError, `SELECT `+sweepErrorColumns+` FROM sweep_errors
		WHERE sweep_id = $1 ORDER BY occurred_at DESC, url, kind, message LIMIT $2 OFFSET $3`, sweepID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("listing errors of sweep %s: %w", sweepID, err)
	}
	return es, total, nil
}

// sweepErrorColumns are the columns scanSweepError reads.
const sweepErrorColumns = `sweep_id, url, kind, message, occurred_at`

func scanSweepError(r rowScanner) (wildwatch.SweepError, error) {
	var e wildwatch.SweepError
	var at int64
	if err := r.Scan(&e.SweepID, &e.URL, &e.Kind, &e.Message, &at); err != nil {
		return wildwatch.SweepError{}, err
	}
	e.At = timeFromMicros(at)
	return e, nil
}

// TaskProgress is how far a sweep's tasks have come: Settled of Total are
// done, failed or cancelled.
type TaskProgress struct {
	Settled, Total int
}

// SweepProgress counts a sweep's tasks and those settled; zero for an
// unknown sweep.
func (c *Catalog) SweepProgress(ctx context.Context, sweepID string) (TaskProgress, error) {
	var p TaskProgress
	var settled sql.NullInt64
	err := c.db.QueryRowContext(ctx, `SELECT COUNT(*),
		SUM(CASE WHEN state IN ('done', 'failed', 'cancelled') THEN 1 ELSE 0 END)
		FROM sweep_tasks WHERE sweep_id = $1`, sweepID).Scan(&p.Total, &settled)
	if err != nil {
		return TaskProgress{}, fmt.Errorf("counting tasks of sweep %s: %w", sweepID, err)
	}
	p.Settled = int(settled.Int64)
	return p, nil
}

// CountFlagsByStatus counts the flags in one status (all for "").
func (c *Catalog) CountFlagsByStatus(ctx context.Context, status string) (int, error) {
	var w sqlWhere
	if status != "" {
		w.add("status = ?", status)
	}
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM flags`+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting flags: %w", err)
	}
	return n, nil
}

// DayCount is how many flags of one category were raised on one UTC day.
type DayCount struct {
	// Day is the day's midnight, UTC.
	Day      time.Time
	Category string
	Count    int
}

// FlagsPerDay counts the flags raised since since, per UTC day and
// category, oldest day first and categories in name order.
func (c *Catalog) FlagsPerDay(ctx context.Context, since time.Time) ([]DayCount, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT created_at / `+dayMicros+`, category, COUNT(*) FROM flags
		WHERE created_at >= $1 GROUP BY created_at / `+dayMicros+`, category ORDER BY 1, 2`, unixMicros(since))
	if err != nil {
		return nil, fmt.Errorf("counting flags per day: %w", err)
	}
	defer rows.Close()
	out := []DayCount{}
	for rows.Next() {
		var day int64
		var d DayCount
		if err := rows.Scan(&day, &d.Category, &d.Count); err != nil {
			return nil, fmt.Errorf("counting flags per day: %w", err)
		}
		d.Day = timeFromMicros(day * microsPerDay).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting flags per day: %w", err)
	}
	return out, nil
}

// SweepSpan is when a finished sweep was created and when it finished.
type SweepSpan struct {
	ID, Target          string
	Created, FinishedAt time.Time
}

// Duration is how long the sweep took.
func (s SweepSpan) Duration() time.Duration { return s.FinishedAt.Sub(s.Created) }

// FinishedSweeps returns the last limit sweeps that finished (status
// finished), the latest first. limit defaults to 100 (at most 1000).
func (c *Catalog) FinishedSweeps(ctx context.Context, limit int) ([]SweepSpan, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("listing finished sweeps: %w", err)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT id, target, created_at, finished_at FROM sweeps
		WHERE status = $1 AND finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT $2`,
		wildwatch.SweepFinished, limit)
	if err != nil {
		return nil, fmt.Errorf("listing finished sweeps: %w", err)
	}
	defer rows.Close()
	out := []SweepSpan{}
	for rows.Next() {
		var s SweepSpan
		var created, finished int64
		if err := rows.Scan(&s.ID, &s.Target, &created, &finished); err != nil {
			return nil, fmt.Errorf("listing finished sweeps: %w", err)
		}
		s.Created, s.FinishedAt = timeFromMicros(created), timeFromMicros(finished)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing finished sweeps: %w", err)
	}
	return out, nil
}

// KindCount is how many errors of one kind the sweeps of one target had.
type KindCount struct {
	Target, Kind string
	Count        int
}

// ErrorsPerTarget counts the sweep errors that occurred since since, per
// target and kind, in target and kind order.
func (c *Catalog) ErrorsPerTarget(ctx context.Context, since time.Time) ([]KindCount, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT s.target, e.kind, COUNT(*) FROM sweep_errors e
		JOIN sweeps s ON s.id = e.sweep_id WHERE e.occurred_at >= $1
		GROUP BY s.target, e.kind ORDER BY s.target, e.kind`, unixMicros(since))
	if err != nil {
		return nil, fmt.Errorf("counting errors per target: %w", err)
	}
	defer rows.Close()
	out := []KindCount{}
	for rows.Next() {
		var k KindCount
		if err := rows.Scan(&k.Target, &k.Kind, &k.Count); err != nil {
			return nil, fmt.Errorf("counting errors per target: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting errors per target: %w", err)
	}
	return out, nil
}
