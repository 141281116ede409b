package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Sweep task states.
const (
	TaskPending = "pending"
	TaskDone    = "done"
	TaskFailed  = "failed"
)

// SweepTask is one queued step of a sweep: an index page or a listing. The
// tasks of a sweep are the source of truth for its progress and for when it
// is finished.
type SweepTask struct {
	SweepID string `json:"sweep_id"`
	// Key identifies the task within its sweep ("index:<url>#<page>",
	// "listing:<url>"); the caller chooses it so that discovering the same
	// page twice adds one task.
	Key string `json:"key"`
	// Kind is wildwatch.PageIndex or wildwatch.PageListing for pages, which
	// sweep counts report; other steps of a sweep (its start) may use kinds
	// of their own, which only count as pending until finished.
	Kind string `json:"kind"`
	URL  string `json:"url"`
	Page int    `json:"page"`
	// State is pending, done or failed.
	State string `json:"state"`
}

// AddTask records a pending task. A task whose (SweepID, Key) exists is
// left as it is and added is false. t.State is ignored: a new task is
// pending. ErrNotFound when the sweep is unknown.
func (c *Catalog) AddTask(ctx context.Context, t SweepTask) (added bool, err error) {
	if t.SweepID == "" || t.Key == "" || t.Kind == "" {
		return false, fmt.Errorf("adding task %q: sweep id, key and kind are required: %w", t.Key, ErrInvalid)
	}
	now := unixMicros(catalogNow())
	res, err := c.db.ExecContext(ctx, `INSERT INTO sweep_tasks (sweep_id, task_key, kind, url, page, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) ON CONFLICT (sweep_id, task_key) DO NOTHING`,
		t.SweepID, t.Key, t.Kind, t.URL, t.Page, now)
	if isForeignKeyViolation(err) {
		return false, fmt.Errorf("adding task %q: sweep %s: %w", t.Key, t.SweepID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("adding task %q to sweep %s: %w", t.Key, t.SweepID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("adding task %q to sweep %s: %w", t.Key, t.SweepID, err)
	}
	return n == 1, nil
}

// GetTask returns one task of a sweep.
func (c *Catalog) GetTask(ctx context.Context, sweepID, key string) (SweepTask, error) {
	t := SweepTask{SweepID: sweepID, Key: key}
	err := c.db.QueryRowContext(ctx, `SELECT kind, url, page, state FROM sweep_tasks WHERE sweep_id = $1 AND task_key = $2`,
		sweepID, key).Scan(&t.Kind, &t.URL, &t.Page, &t.State)
	if errors.Is(err, sql.ErrNoRows) {
		return SweepTask{}, fmt.Errorf("task %q of sweep %s: %w", key, sweepID, ErrNotFound)
	}
	if err != nil {
		return SweepTask{}, fmt.Errorf("getting task %q of sweep %s: %w", key, sweepID, err)
	}
	return t, nil
}

// CountTasks counts the tasks of one kind in a sweep, in any state; an
// empty kind counts every task.
func (c *Catalog) CountTasks(ctx context.Context, sweepID, kind string) (int, error) {
	var w sqlWhere
	w.add("sweep_id = ?", sweepID)
	if kind != "" {
		w.add("kind = ?", kind)
	}
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sweep_tasks`+w.String(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting tasks of sweep %s: %w", sweepID, err)
	}
	return n, nil
}

// FinishTask moves a pending task to done (or failed). A task already done
// or failed is left alone, so a retried task may finish twice. When the move
// leaves the sweep without pending tasks and the sweep is queued or running,
// the sweep becomes finished in the same transaction and sweepDone is true;
// of any number of concurrent callers, in any number of processes, exactly
// one sees sweepDone. ErrNotFound for an unknown sweep or task.
func (c *Catalog) FinishTask(ctx context.Context, sweepID, key string, failed bool) (sweepDone bool, err error) {
	state := TaskDone
	if failed {
		state = TaskFailed
	}
	now := unixMicros(catalogNow())
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		// Write the sweep row first. On PostgreSQL that locks it, so the
		// finishers of one sweep take turns and the last of them sees every
		// other task settled (at READ COMMITTED each statement sees what
		// committed before it began). On SQLite the transaction already
		// holds the database's write lock.
		res, err := tx.ExecContext(ctx, `UPDATE sweeps SET updated_at = $2 WHERE id = $1`, sweepID, now)
		if err != nil {
			return fmt.Errorf("locking sweep: %w", err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("sweep %s: %w", sweepID, ErrNotFound)
		}

		res, err = tx.ExecContext(ctx, `UPDATE sweep_tasks SET state = $3, updated_at = $4
			WHERE sweep_id = $1 AND task_key = $2 AND state = 'pending'`, sweepID, key, state, now)
		if err != nil {
			return fmt.Errorf("updating task: %w", err)
		}
		n, err := rowsAffected(res)
		if err != nil {
			return err
		}
		if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM sweep_tasks WHERE sweep_id = $1 AND task_key = $2`, sweepID, key).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("task %q: %w", key, ErrNotFound)
			}
			return err // nil: finished before
		}

		res, err = tx.ExecContext(ctx, `UPDATE sweeps SET status = 'finished', finished_at = $2
			WHERE id = $1 AND status IN ('queued', 'running')
			AND NOT EXISTS (SELECT 1 FROM sweep_tasks WHERE sweep_id = $1 AND state = 'pending')`, sweepID, now)
		if err != nil {
			return fmt.Errorf("finishing sweep: %w", err)
		}
		n, err = rowsAffected(res)
		if err != nil {
			return err
		}
		sweepDone = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("finishing task %q of sweep %s: %w", key, sweepID, err)
	}
	return sweepDone, nil
}
