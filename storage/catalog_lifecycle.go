package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wildwatch/wildwatch"
)

// ErrSweepStatus reports a change a sweep's status does not allow: pausing
// a finished sweep, resuming one that is not paused.
var ErrSweepStatus = errors.New("not allowed in the sweep's status")

// A sweep's life: queued (CreateSweep) → running (StartRunning, when its
// start task runs) → finished or failed (FinishTask, when its last task
// finishes). PauseSweep parks it: the workers set aside the tasks they pick
// up (ParkTask) until ResumeSweep, which hands back every task left to
// queue again. CancelSweep and FailSweep end it, cancelling its tasks not
// yet run. Each of these runs in a transaction that first writes the
// sweep's row: on PostgreSQL that lock makes them take turns with each
// other and with FinishTask and ParkTask, so that no task is parked after
// its sweep was resumed and no sweep ends while a task is being parked.

// lockSweep writes the sweep's row, locking it (see above), and returns its
// status; ErrNotFound for an unknown sweep.
func lockSweep(ctx context.Context, tx *sql.Tx, id string, now int64) (string, error) {
	var status string
	err := tx.QueryRowContext(ctx, `UPDATE sweeps SET updated_at = $2 WHERE id = $1 RETURNING status`, id, now).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sweep %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("locking sweep %s: %w", id, err)
	}
	return status, nil
}

// StartRunning moves a queued sweep to running and returns its status
// after the call: running, or whatever else it was (a sweep paused or
// cancelled before its start task ran stays so).
func (c *Catalog) StartRunning(ctx context.Context, id string) (string, error) {
	var status string
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if status, err = lockSweep(ctx, tx, id, unixMicros(catalogNow())); err != nil {
			return err
		}
		if status != wildwatch.SweepQueued {
			return nil
		}
		status = wildwatch.SweepRunning
		_, err = tx.ExecContext(ctx, `UPDATE sweeps SET status = 'running' WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("starting sweep %s: %w", id, err)
	}
	return status, nil
}

// PauseSweep pauses a queued or running sweep; reason says why. Tasks
// already running finish; those picked up later are parked (ParkTask).
// ErrSweepStatus when the sweep is paused already or has ended.
func (c *Catalog) PauseSweep(ctx context.Context, id, reason string) error {
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		status, err := lockSweep(ctx, tx, id, unixMicros(catalogNow()))
		if err != nil {
			return err
		}
		if status != wildwatch.SweepQueued && status != wildwatch.SweepRunning {
			return fmt.Errorf("sweep %s is %s: %w", id, status, ErrSweepStatus)
		}
		_, err = tx.ExecContext(ctx, `UPDATE sweeps SET status = 'paused', reason = $2 WHERE id = $1`, id, reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("pausing sweep %s: %w", id, err)
	}
	return nil
}

// Resume is what ResumeSweep hands back.
type Resume struct {
	// Status is the sweep's status after the resume: running, or finished
	// or failed when it had no task left.
	Status string
	// Seq numbers the sweep's resumes, 1 for the first; it names the queue
	// tasks of the resume, so that each resume queues its tasks afresh and
	// a repeated resume queues them once.
	Seq int
	// Tasks are every task of the sweep left to run (pending, the parked
	// ones among them); the caller queues them again.
	Tasks []SweepTask
}

// ResumeSweep moves a paused sweep back to running, its parked tasks back
// to pending, and returns every pending task to queue again. Resuming a
// running sweep changes nothing but returns its pending tasks again with
// the last resume's Seq, for a resume whose queueing was cut short. A
// sweep with no task left ends (finished or failed, as FinishTask decides).
// ErrSweepStatus when the sweep has ended or was never resumed nor paused.
func (c *Catalog) ResumeSweep(ctx context.Context, id string) (Resume, error) {
	var r Resume
	now := unixMicros(catalogNow())
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		status, err := lockSweep(ctx, tx, id, now)
		if err != nil {
			return err
		}
		switch status {
		case wildwatch.SweepPaused:
			if err := tx.QueryRowContext(ctx, `UPDATE sweeps SET status = 'running', reason = '', blocked_streak = 0,
				resumes = resumes + 1 WHERE id = $1 RETURNING resumes`, id).Scan(&r.Seq); err != nil {
				return err
			}
		case wildwatch.SweepRunning:
			if err := tx.QueryRowContext(ctx, `SELECT resumes FROM sweeps WHERE id = $1`, id).Scan(&r.Seq); err != nil {
				return err
			}
			if r.Seq == 0 {
				return fmt.Errorf("sweep %s is running and was never paused: %w", id, ErrSweepStatus)
			}
		default:
			return fmt.Errorf("sweep %s is %s: %w", id, status, ErrSweepStatus)
		}
		r.Status = wildwatch.SweepRunning
		if _, err := tx.ExecContext(ctx, `UPDATE sweep_tasks SET state = 'pending', updated_at = $2
			WHERE sweep_id = $1 AND state = 'parked'`, id, now); err != nil {
			return fmt.Errorf("unparking tasks: %w", err)
		}
		if r.Tasks, err = pendingTasks(ctx, tx, id); err != nil {
			return err
		}
		if len(r.Tasks) == 0 {
			// The last tasks finished while the sweep was paused.
			st, ended, err := endIfSettled(ctx, tx, id, now)
			if err != nil {
				return err
			}
			if ended {
				r.Status = st
			}
		}
		return nil
	})
	if err != nil {
		return Resume{}, fmt.Errorf("resuming sweep %s: %w", id, err)
	}
	return r, nil
}

func pendingTasks(ctx context.Context, tx *sql.Tx, id string) ([]SweepTask, error) {
	rows, err := tx.QueryContext(ctx, `SELECT task_key, kind, url, page FROM sweep_tasks
		WHERE sweep_id = $1 AND state = 'pending' ORDER BY created_at, task_key`, id)
	if err != nil {
		return nil, fmt.Errorf("reading pending tasks: %w", err)
	}
	defer rows.Close()
	var ts []SweepTask
	for rows.Next() {
		t := SweepTask{SweepID: id, State: TaskPending}
		if err := rows.Scan(&t.Key, &t.Kind, &t.URL, &t.Page); err != nil {
			return nil, fmt.Errorf("reading pending tasks: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading pending tasks: %w", err)
	}
	return ts, nil
}

// CancelSweep ends a queued, running or paused sweep as cancelled, with
// reason, and cancels its pending and parked tasks: the workers that pick
// them up do not run them. Tasks already running finish. ErrSweepStatus
// when the sweep has ended.
func (c *Catalog) CancelSweep(ctx context.Context, id, reason string) error {
	return c.endSweep(ctx, id, wildwatch.SweepCancelled, reason)
}

// FailSweep ends a queued, running or paused sweep as failed, with reason,
// cancelling its tasks not yet run as CancelSweep does.
func (c *Catalog) FailSweep(ctx context.Context, id, reason string) error {
	return c.endSweep(ctx, id, wildwatch.SweepFailed, reason)
}

func (c *Catalog) endSweep(ctx context.Context, id, status, reason string) error {
	now := unixMicros(catalogNow())
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		was, err := lockSweep(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if !wildwatch.SweepActive(was) {
			return fmt.Errorf("sweep %s is %s: %w", id, was, ErrSweepStatus)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sweeps SET status = $2, reason = $3, finished_at = COALESCE(finished_at, $4)
			WHERE id = $1`, id, status, reason, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sweep_tasks SET state = 'cancelled', updated_at = $2
			WHERE sweep_id = $1 AND state IN ('pending', 'parked')`, id, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("ending sweep %s as %s: %w", id, status, err)
	}
	return nil
}

// TaskGate is what a worker needs to know before it runs a task.
type TaskGate struct {
	// SweepStatus is the status of the task's sweep.
	SweepStatus string
	// TaskState is the task's state.
	TaskState string
}

// GateTask returns the status of a task's sweep and the task's state.
// ErrNotFound for an unknown task.
func (c *Catalog) GateTask(ctx context.Context, sweepID, key string) (TaskGate, error) {
	var g TaskGate
	err := c.db.QueryRowContext(ctx, `SELECT s.status, t.state FROM sweeps s JOIN sweep_tasks t ON t.sweep_id = s.id
		WHERE s.id = $1 AND t.task_key = $2`, sweepID, key).Scan(&g.SweepStatus, &g.TaskState)
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("task %q of sweep %s: %w", key, sweepID, ErrNotFound)
	}
	if err != nil {
		return g, fmt.Errorf("reading task %q of sweep %s: %w", key, sweepID, err)
	}
	return g, nil
}

// ParkTask sets a pending task aside while its sweep is paused. parked is
// true when the sweep is paused (the task, if it was pending, is now
// parked): the caller must not run it. When the sweep is no longer paused
// nothing changes and parked is false.
func (c *Catalog) ParkTask(ctx context.Context, sweepID, key string) (parked bool, err error) {
	now := unixMicros(catalogNow())
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		status, err := lockSweep(ctx, tx, sweepID, now)
		if err != nil || status != wildwatch.SweepPaused {
			return err
		}
		parked = true
		_, err = tx.ExecContext(ctx, `UPDATE sweep_tasks SET state = 'parked', updated_at = $3
			WHERE sweep_id = $1 AND task_key = $2 AND state = 'pending'`, sweepID, key, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("parking task %q of sweep %s: %w", key, sweepID, err)
	}
	return parked, nil
}

// UnparkTask moves a parked task of a queued or running sweep back to
// pending, for a task queued again that finds itself still parked.
func (c *Catalog) UnparkTask(ctx context.Context, sweepID, key string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE sweep_tasks SET state = 'pending', updated_at = $3
		WHERE sweep_id = $1 AND task_key = $2 AND state = 'parked'
		AND EXISTS (SELECT 1 FROM sweeps WHERE id = $1 AND status IN ('queued', 'running'))`,
		sweepID, key, unixMicros(catalogNow()))
	if err != nil {
		return fmt.Errorf("unparking task %q of sweep %s: %w", key, sweepID, err)
	}
	return nil
}

// CancelTask cancels a pending or parked task of an ended sweep, which a
// worker picked up after the sweep ended.
func (c *Catalog) CancelTask(ctx context.Context, sweepID, key string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE sweep_tasks SET state = 'cancelled', updated_at = $3
		WHERE sweep_id = $1 AND task_key = $2 AND state IN ('pending', 'parked')
		AND EXISTS (SELECT 1 FROM sweeps WHERE id = $1 AND status IN ('finished', 'failed', 'cancelled'))`,
		sweepID, key, unixMicros(catalogNow()))
	if err != nil {
		return fmt.Errorf("cancelling task %q of sweep %s: %w", key, sweepID, err)
	}
	return nil
}

// RecordBlocked counts one more ErrKindBlocked error in a row on a sweep
// and returns how many there are now in a row.
func (c *Catalog) RecordBlocked(ctx context.Context, sweepID string) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `UPDATE sweeps SET blocked_streak = blocked_streak + 1 WHERE id = $1 RETURNING blocked_streak`,
		sweepID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sweep %s: %w", sweepID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("counting blocks of sweep %s: %w", sweepID, err)
	}
	return n, nil
}

// ResetBlocked ends a sweep's run of ErrKindBlocked errors: a page came
// through.
func (c *Catalog) ResetBlocked(ctx context.Context, sweepID string) error {
	if _, err := c.db.ExecContext(ctx, `UPDATE sweeps SET blocked_streak = 0 WHERE id = $1 AND blocked_streak <> 0`, sweepID); err != nil {
		return fmt.Errorf("resetting blocks of sweep %s: %w", sweepID, err)
	}
	return nil
}

// CreateSweepIfIdle creates sweep s of t, as CreateSweep does, unless the
// target has a sweep queued, running or paused; then it creates nothing,
// created is false and active is that sweep. Two callers at once create
// one sweep between them: the target's row is locked first (it must be
// stored).
func (c *Catalog) CreateSweepIfIdle(ctx context.Context, s wildwatch.Sweep, t wildwatch.Target) (created bool, active wildwatch.Sweep, err error) {
	if s.ID == "" || t.Name == "" || (s.Target != "" && s.Target != t.Name) {
		return false, active, fmt.Errorf("creating sweep %q of %q: %w", s.ID, t.Name, ErrInvalid)
	}
	s.Target = t.Name
	if s.Status == "" {
		s.Status = wildwatch.SweepQueued
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = catalogNow()
	}
	var activeID string
	err = c.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE targets SET updated_at = updated_at WHERE name = $1`, t.Name)
		if err != nil {
			return fmt.Errorf("locking target: %w", err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("target %s: %w", t.Name, ErrNotFound)
		}
		err = tx.QueryRowContext(ctx, `SELECT id FROM sweeps WHERE target = $1 AND status IN ('queued', 'running', 'paused')
			ORDER BY created_at DESC, id DESC LIMIT 1`, t.Name).Scan(&activeID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		created, err = insertSweep(ctx, tx, s, t)
		return err
	})
	if err != nil {
		return false, active, fmt.Errorf("creating sweep of %s: %w", t.Name, err)
	}
	if activeID != "" {
		active, err = c.GetSweep(ctx, activeID)
		return false, active, err
	}
	return created, active, nil
}

// LatestSweep returns the target's newest sweep; ErrNotFound when it has
// none.
func (c *Catalog) LatestSweep(ctx context.Context, target string) (wildwatch.Sweep, error) {
	ss, err := c.ListSweeps(ctx, SweepFilter{Target: target, Limit: 1})
	if err != nil {
		return wildwatch.Sweep{}, err
	}
	if len(ss) == 0 {
		return wildwatch.Sweep{}, fmt.Errorf("sweeps of %s: %w", target, ErrNotFound)
	}
	return ss[0], nil
}
