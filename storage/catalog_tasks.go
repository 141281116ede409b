package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wildwatch/wildwatch"
)

// Sweep task states. A task is pending until it is done or failed; a task
// of a paused sweep that a worker picks up is parked instead of run, and
// pending again when the sweep resumes; the tasks a cancelled sweep never
// ran are cancelled.
const (
	TaskPending   = "pending"
	TaskDone      = "done"
	TaskFailed    = "failed"
	TaskParked    = "parked"
	TaskCancelled = "cancelled"
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
	// State is pending, parked, done, failed or cancelled.
	State string `json:"state"`
}

// AddTask records a pending task. A task whose (SweepID, Key) exists is
// left as it is and added is false. t.State is ignored: a new task is
// pending. ErrNotFound when the sweep is unknown.
func (c *Catalog) AddTask(ctx context.Context, t SweepTask) (added bool, err error) {
	if err := checkTask(t); err != nil {
		return false, err
	}
	now := unixMicros(catalogNow())
	res, err := c.db.ExecContext(ctx, taskInsert, t.SweepID, t.Key, t.Kind, t.URL, t.Page, now)
	if err != nil {
		return false, taskError(t, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("adding task %q to sweep %s: %w", t.Key, t.SweepID, err)
	}
	return n == 1, nil
}

// taskInsert adds a pending task unless it exists. Arguments: sweep, key,
// kind, url, page, now.
const taskInsert = `INSERT INTO sweep_tasks (sweep_id, task_key, kind, url, page, state, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) ON CONFLICT (sweep_id, task_key) DO NOTHING`

// checkTask checks the fields AddTask requires.
func checkTask(t SweepTask) error {
	if t.SweepID == "" || t.Key == "" || t.Kind == "" {
		return fmt.Errorf("adding task %q: sweep id, key and kind are required: %w", t.Key, ErrInvalid)
	}
	return nil
}

// taskError wraps an error adding task t.
func taskError(t SweepTask, err error) error {
	if isForeignKeyViolation(err) {
		return fmt.Errorf("adding task %q: sweep %s: %w", t.Key, t.SweepID, ErrNotFound)
	}
	return fmt.Errorf("adding task %q to sweep %s: %w", t.Key, t.SweepID, err)
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
// leaves the sweep without pending or parked tasks and the sweep is queued
// or running, the sweep ends in the same transaction and sweepDone is true;
// of any number of concurrent callers, in any number of processes, exactly
// one sees sweepDone. The sweep ends failed when it had index pages and
// none was fetched, or listings and none was captured; else finished. A
// task done ends the sweep's run of block pages (RecordBlocked). ErrNotFound
// for an unknown sweep or task.
func (c *Catalog) FinishTask(ctx context.Context, sweepID, key string, failed bool) (sweepDone bool, err error) {
	o, err := c.FinishTaskOutcome(ctx, sweepID, key, failed)
	return o.SweepEnded, err
}

// TaskOutcome is what FinishTaskOutcome did.
type TaskOutcome struct {
	// SweepEnded: this call ended the sweep.
	SweepEnded bool
	// Settled: the task was finished (or cancelled) before this call.
	Settled bool
	// Status is the sweep's status after the call.
	Status string
}

// FinishTaskOutcome is FinishTask, telling also whether the task was
// settled before and the sweep's status after the call.
func (c *Catalog) FinishTaskOutcome(ctx context.Context, sweepID, key string, failed bool) (TaskOutcome, error) {
	now := unixMicros(catalogNow())
	if c.pipelined() {
		return c.finishTaskPG(ctx, sweepID, key, failed, now)
	}
	var o TaskOutcome
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		o, err = finishTx(ctx, tx, sweepID, key, failed, now)
		return err
	})
	if err != nil {
		return TaskOutcome{}, fmt.Errorf("finishing task %q of sweep %s: %w", key, sweepID, err)
	}
	return o, nil
}

// finishTx is FinishTaskOutcome's transaction, tx.
func finishTx(ctx context.Context, tx *sql.Tx, sweepID, key string, failed bool, now int64) (TaskOutcome, error) {
	state := TaskDone
	if failed {
		state = TaskFailed
	}
	var o TaskOutcome
	// Write the sweep row first. On PostgreSQL that locks it, so the
	// finishers of one sweep take turns and the last of them sees every
	// other task settled (at READ COMMITTED each statement sees what
	// committed before it began). On SQLite the transaction already holds
	// the database's write lock.
	// A task done also ends the sweep's run of block pages (see
	// RecordBlocked).
	lock := `UPDATE sweeps SET updated_at = $2 WHERE id = $1 RETURNING status`
	if !failed {
		lock = `UPDATE sweeps SET updated_at = $2, blocked_streak = 0 WHERE id = $1 RETURNING status`
	}
	if err := tx.QueryRowContext(ctx, lock, sweepID, now).Scan(&o.Status); errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("sweep %s: %w", sweepID, ErrNotFound)
	} else if err != nil {
		return o, fmt.Errorf("locking sweep: %w", err)
	}

	res, err := tx.ExecContext(ctx, `UPDATE sweep_tasks SET state = $3, updated_at = $4
		WHERE sweep_id = $1 AND task_key = $2 AND state IN ('pending', 'parked')`, sweepID, key, state, now)
	if err != nil {
		return o, fmt.Errorf("updating task: %w", err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return o, err
	}
	if n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM sweep_tasks WHERE sweep_id = $1 AND task_key = $2`, sweepID, key).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return o, fmt.Errorf("task %q: %w", key, ErrNotFound)
		}
		o.Settled = err == nil
		return o, err // nil: finished before
	}
	status, ended, err := endIfSettled(ctx, tx, sweepID, now)
	if err != nil {
		return o, err
	}
	if ended {
		o.SweepEnded, o.Status = true, status
	}
	return o, nil
}

// endIfSettled ends a queued or running sweep that has no pending or
// parked task left, within tx, which holds the sweep's row: failed when it
// had index pages and none was fetched, or listings and none was
// captured, else finished. It returns the status and whether it ended the
// sweep.
func endIfSettled(ctx context.Context, tx *sql.Tx, sweepID string, now int64) (string, bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE sweeps SET status = 'finished', finished_at = $2
		WHERE id = $1 AND status IN ('queued', 'running')
		AND NOT EXISTS (SELECT 1 FROM sweep_tasks WHERE sweep_id = $1 AND state IN ('pending', 'parked'))`, sweepID, now)
	if err != nil {
		return "", false, fmt.Errorf("finishing sweep: %w", err)
	}
	n, err := rowsAffected(res)
	if err != nil || n == 0 {
		return "", false, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT kind, state, COUNT(*) FROM sweep_tasks
		WHERE sweep_id = $1 AND kind IN ('index', 'listing') GROUP BY kind, state`, sweepID)
	if err != nil {
		return "", false, fmt.Errorf("reading task outcomes: %w", err)
	}
	total, done := map[string]int{}, map[string]int{}
	for rows.Next() {
		var kind, state string
		var k int
		if err := rows.Scan(&kind, &state, &k); err != nil {
			rows.Close()
			return "", false, fmt.Errorf("reading task outcomes: %w", err)
		}
		total[kind] += k
		if state == TaskDone {
			done[kind] += k
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("reading task outcomes: %w", err)
	}
	reason := ""
	switch {
	case total["index"] > 0 && done["index"] == 0:
		reason = fmt.Sprintf("every index page failed (%d)", total["index"])
	case total["listing"] > 0 && done["listing"] == 0:
		reason = fmt.Sprintf("every listing failed (%d)", total["listing"])
	}
	if reason == "" {
		return wildwatch.SweepFinished, true, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sweeps SET status = 'failed', reason = $2 WHERE id = $1`, sweepID, reason); err != nil {
		return "", false, fmt.Errorf("failing sweep: %w", err)
	}
	return wildwatch.SweepFailed, true, nil
}
