package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/wildwatch/wildwatch"
)

// On PostgreSQL what a worker asks of the catalog for every page
// (FinishTaskOutcome, PutCapture, PutCaptureFinish, LookupListing,
// AddTasks) is sent as pipelines: several statements, BEGIN and COMMIT
// included, in one round trip to the server. The statements and their
// order are those of the transaction run one statement at a time; what a
// later statement would have decided from an earlier one's answer is said
// in SQL instead. SQLite, in the process, runs them one at a time.

// pgTxBegin opens every pipelined transaction: at READ COMMITTED, as inTx.
const pgTxBegin = `BEGIN ISOLATION LEVEL READ COMMITTED`

// pgConn runs fn on one connection of the pool as a pgx connection. A
// transaction fn leaves open (a pipeline cut short by an error) is rolled
// back, and the connection is dropped when that fails.
func (c *Catalog) pgConn(ctx context.Context, fn func(conn *pgx.Conn) error) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("catalog connection is a %T, not pgx", dc)
		}
		pc := sc.Conn()
		err := fn(pc)
		if pc.PgConn().TxStatus() != 'I' {
			if _, rerr := pc.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				// database/sql drops a connection left in a transaction
				// (stdlib.Conn.ResetSession).
				err = errors.Join(err, fmt.Errorf("rolling back: %w", rerr))
			}
		}
		return err
	})
}

// pipelined reports whether the catalog sends its per-page transactions as
// pipelines.
func (c *Catalog) pipelined() bool { return c.dialect == DialectPostgres }

// finishTaskPG is FinishTaskOutcome on PostgreSQL in one round trip. The
// sweep's row is written first, as in FinishTaskOutcome, so that finishers
// of one sweep take turns. Then one statement moves the task and, when
// that left no task pending or parked, ends the sweep: the statement sees
// the tasks as they were before it (the task it moves still pending), so
// it leaves that task out of the check and counts it in its new state.
func (c *Catalog) finishTaskPG(ctx context.Context, sweepID, key string, failed bool, now int64) (TaskOutcome, error) {
	var o TaskOutcome
	err := c.pgConn(ctx, func(conn *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue(pgTxBegin)
		read := queueFinish(b, sweepID, key, failed, now, &o)
		b.Queue(`COMMIT`)
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("beginning transaction: %w", err)
		}
		if err := read(br); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("committing transaction: %w", err)
		}
		return br.Close()
	})
	if err != nil {
		return TaskOutcome{}, fmt.Errorf("finishing task %q of sweep %s: %w", key, sweepID, err)
	}
	return o, nil
}

// queueFinish queues FinishTaskOutcome's statements in b, within a
// transaction b opens, and returns what reads their answers into o.
func queueFinish(b *pgx.Batch, sweepID, key string, failed bool, now int64, o *TaskOutcome) func(br pgx.BatchResults) error {
	lock, state := finishLockDoneSQL, TaskDone
	if failed {
		lock, state = finishLockSQL, TaskFailed
	}
	b.Queue(lock, sweepID, now)
	b.Queue(finishTaskKnownSQL, sweepID, key)
	b.Queue(finishSQL, sweepID, key, state, now)
	return func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&o.Status); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("sweep %s: %w", sweepID, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("locking sweep: %w", err)
		}
		var one int
		var pgErr *pgconn.PgError
		if err := br.QueryRow().Scan(&one); errors.As(err, &pgErr) && pgErr.Code == "22012" { // division_by_zero: finishTaskKnownSQL
			return fmt.Errorf("task %q: %w", key, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("reading task: %w", err)
		}
		var moved int
		var ended *string
		if err := br.QueryRow().Scan(&moved, &ended); err != nil {
			return fmt.Errorf("updating task: %w", err)
		}
		o.Settled = moved == 0
		if ended != nil {
			o.SweepEnded, o.Status = true, *ended
		}
		return nil
	}
}

// The statements of FinishTaskOutcome on PostgreSQL (queueFinish).
const (
	// finishLockSQL writes the sweep's row first, to lock it.
	// Arguments: sweep, now.
	finishLockSQL = `UPDATE sweeps SET updated_at = $2 WHERE id = $1 RETURNING status`
	// finishLockDoneSQL also ends the sweep's run of block pages.
	finishLockDoneSQL = `UPDATE sweeps SET updated_at = $2, blocked_streak = 0 WHERE id = $1 RETURNING status`
	// finishTaskKnownSQL fails, dividing by zero, when the task is
	// unknown: that aborts the transaction, so that it is rolled back
	// however the pipeline ends. Arguments: sweep, task key.
	finishTaskKnownSQL = `SELECT 1 / COUNT(*) FROM sweep_tasks WHERE sweep_id = $1 AND task_key = $2`
)

// finishFailureSQL is the reason a sweep ending now fails, NULL when it
// finishes; the task finishing ($2) counts in its new state ($3). It is
// read only when the sweep ends (the SET expressions of the row updated).
const finishFailureSQL = `(SELECT CASE
		WHEN index_total > 0 AND index_done = 0 THEN 'every index page failed (' || index_total || ')'
		WHEN listing_total > 0 AND listing_done = 0 THEN 'every listing failed (' || listing_total || ')' END
	FROM (SELECT
		COUNT(*) FILTER (WHERE kind = 'index') AS index_total,
		COUNT(*) FILTER (WHERE kind = 'index' AND (CASE WHEN task_key = $2 THEN $3 ELSE state END) = 'done') AS index_done,
		COUNT(*) FILTER (WHERE kind = 'listing') AS listing_total,
		COUNT(*) FILTER (WHERE kind = 'listing' AND (CASE WHEN task_key = $2 THEN $3 ELSE state END) = 'done') AS listing_done
		FROM sweep_tasks WHERE sweep_id = $1 AND kind IN ('index', 'listing')) counts)`

// finishSQL moves the task and, when that leaves no task pending or
// parked, ends the sweep; it returns how many tasks it moved (0 or 1) and
// the sweep's status when it ended it. Arguments: sweep, task key, state,
// now.
const finishSQL = `WITH moved AS (
		UPDATE sweep_tasks SET state = $3, updated_at = $4
		WHERE sweep_id = $1 AND task_key = $2 AND state IN ('pending', 'parked')
		RETURNING task_key),
	ended AS (
		UPDATE sweeps SET finished_at = $4,
			status = CASE WHEN ` + finishFailureSQL + ` IS NULL THEN 'finished' ELSE 'failed' END,
			reason = COALESCE(` + finishFailureSQL + `, reason)
		WHERE id = $1 AND status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM moved)
		AND NOT EXISTS (SELECT 1 FROM sweep_tasks
			WHERE sweep_id = $1 AND task_key <> $2 AND state IN ('pending', 'parked'))
		RETURNING status)
	SELECT (SELECT COUNT(*) FROM moved), (SELECT status FROM ended)`

// putCapturePG is PutCapture's transaction on PostgreSQL in two round
// trips: the capture's row, the listing's row written (to lock it) and the
// listing's captures read, then the listing's status written and the
// transaction committed; rolled back when the capture was stored already.
// more, when not nil, queues statements to run in the transaction after
// the listing's, and returns what reads their answers.
func (c *Catalog) putCapturePG(ctx context.Context, args []any, target, url, listingID string, more func(b *pgx.Batch) func(pgx.BatchResults) error) (added bool, err error) {
	err = c.pgConn(ctx, func(conn *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue(pgTxBegin)
		b.Queue(captureInsert, args...)
		b.Queue(listingLockSQL, target, url, unixMicros(catalogNow()))
		b.Queue(listingCapturesSQL, target, url)
		var caps []listingCapture
		br := conn.SendBatch(ctx, b)
		err := func() error {
			defer br.Close()
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("beginning transaction: %w", err)
			}
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			added = tag.RowsAffected() == 1
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("locking listing %s: %w", url, err)
			}
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("reading captures of listing %s: %w", url, err)
			}
			defer rows.Close()
			for rows.Next() {
				var lc listingCapture
				if err := rows.Scan(&lc.id, &lc.at, &lc.change); err != nil {
					return fmt.Errorf("reading captures of listing %s: %w", url, err)
				}
				caps = append(caps, lc)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("reading captures of listing %s: %w", url, err)
			}
			rows.Close()
			return br.Close()
		}()
		if err != nil || !added {
			// Stored already: pgConn rolls back what this call did.
			return err
		}
		q, qargs := listingUpdate(target, url, listingID, caps)
		b = &pgx.Batch{}
		b.Queue(q, qargs...)
		var read func(pgx.BatchResults) error
		if more != nil {
			read = more(b)
		}
		b.Queue(`COMMIT`)
		br = conn.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("updating listing %s: %w", url, err)
		}
		if read != nil {
			if err := read(br); err != nil {
				return err
			}
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("committing transaction: %w", err)
		}
		return br.Close()
	})
	if err != nil {
		return false, err
	}
	return added, nil
}

// CaptureFinish is what PutCaptureFinish did.
type CaptureFinish struct {
	// Added reports whether the capture was new; when it was not, nothing
	// else was done.
	Added bool
	// Flag is the flag raised, as stored; nil when none was.
	Flag *wildwatch.Flag
	// Outcome is FinishTaskOutcome's.
	Outcome TaskOutcome
}

// flagIfNewSQL raises a flag (arguments as flagArgs) unless the same
// content of the listing was flagged before in another capture
// (FlaggedBefore); $13 is the capture's content digest, which when empty
// was never flagged, $14 its URL.
const flagIfNewSQL = `INSERT INTO flags
	(id, sweep_id, capture_id, target, url, category, score, status, rule_set, created_at, listing, verdict)
	SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS TEXT), CAST($6 AS TEXT),
		CAST($7 AS DOUBLE PRECISION), CAST($8 AS TEXT), CAST($9 AS TEXT), CAST($10 AS BIGINT), CAST($11 AS TEXT), CAST($12 AS TEXT)
	WHERE CAST($13 AS TEXT) = '' OR NOT EXISTS (SELECT 1 FROM flags f JOIN captures p ON p.id = f.capture_id
		WHERE p.url = CAST($14 AS TEXT) AND p.target = CAST($4 AS TEXT) AND p.content_digest = CAST($13 AS TEXT)
		AND p.id <> CAST($3 AS TEXT))
	ON CONFLICT (capture_id) DO NOTHING`

// PutCaptureFinish records the end of a listing's task as one transaction
// (on PostgreSQL in two round trips): PutCapture of r; then, when that
// added the capture, flag, when not nil, raised as PutFlag does unless
// FlaggedBefore says the listing's content was flagged in another capture
// already; and FinishTaskOutcome of the task key of r's sweep, as done. A
// capture stored already is left as it is, and nothing else is done.
func (c *Catalog) PutCaptureFinish(ctx context.Context, r CaptureRecord, key string, flag *wildwatch.Flag) (CaptureFinish, error) {
	var res CaptureFinish
	args, err := captureArgs(r)
	if err != nil {
		return res, err
	}
	var f wildwatch.Flag
	var fargs []any
	if flag != nil {
		if f, fargs, err = flagArgs(*flag); err != nil {
			return res, err
		}
		fargs = append(fargs, r.ContentDigest, r.Capture.URL)
	}
	cp := r.Capture
	now := unixMicros(catalogNow())
	flagged := func(n int64) {
		if n == 1 {
			res.Flag = &f
		}
	}
	if !c.pipelined() {
		err := c.inTx(ctx, func(tx *sql.Tx) error {
			ins, err := tx.ExecContext(ctx, captureInsert, args...)
			if err != nil {
				return err
			}
			if n, err := rowsAffected(ins); err != nil || n == 0 {
				return err
			}
			res.Added = true
			if err := refreshListing(ctx, tx, cp.Target, cp.URL, r.Listing.ID); err != nil {
				return err
			}
			if fargs != nil {
				fr, err := tx.ExecContext(ctx, flagIfNewSQL, fargs...)
				if err != nil {
					return fmt.Errorf("raising flag: %w", err)
				}
				n, err := rowsAffected(fr)
				if err != nil {
					return err
				}
				flagged(n)
			}
			if res.Outcome, err = finishTx(ctx, tx, cp.SweepID, key, false, now); err != nil {
				return fmt.Errorf("finishing task %q of sweep %s: %w", key, cp.SweepID, err)
			}
			return nil
		})
		if err != nil {
			return CaptureFinish{}, captureError(cp, err)
		}
		return res, nil
	}
	res.Added, err = c.putCapturePG(ctx, args, cp.Target, cp.URL, r.Listing.ID, func(b *pgx.Batch) func(pgx.BatchResults) error {
		if fargs != nil {
			b.Queue(flagIfNewSQL, fargs...)
		}
		read := queueFinish(b, cp.SweepID, key, false, now, &res.Outcome)
		return func(br pgx.BatchResults) error {
			if fargs != nil {
				tag, err := br.Exec()
				if err != nil {
					return fmt.Errorf("raising flag: %w", err)
				}
				flagged(tag.RowsAffected())
			}
			if err := read(br); err != nil {
				return fmt.Errorf("finishing task %q of sweep %s: %w", key, cp.SweepID, err)
			}
			return nil
		}
	})
	if err != nil {
		return CaptureFinish{}, captureError(cp, err)
	}
	return res, nil
}

// ListingLookup is what a worker reads of the catalog before it fetches a
// listing page of a sweep: the task's gate, whether the sweep has the
// listing's capture already, the listing's status and the listing's
// capture before this sweep's.
type ListingLookup struct {
	// Gate is what GateTask returns.
	Gate TaskGate
	// Captured reports whether the capture captureID is stored.
	Captured bool
	// Listing is the listing's status (GetListing) in the sweep's target;
	// nil when the catalog does not know the listing.
	Listing *wildwatch.ListingStatus
	// Previous is PreviousCapture of the listing and captureID; nil when
	// there is none.
	Previous *CaptureRecord
}

// LookupListing reads the ListingLookup of the listing url, task key of
// sweep sweepID, whose capture in that sweep is captureID: on PostgreSQL
// in one round trip. ErrNotFound when the task is unknown.
func (c *Catalog) LookupListing(ctx context.Context, sweepID, key, url, captureID string) (ListingLookup, error) {
	var lk ListingLookup
	const ofSweep = `(SELECT target FROM sweeps WHERE id = $1)`
	const gateSQL = `SELECT s.status, t.state FROM sweeps s JOIN sweep_tasks t ON t.sweep_id = s.id
		WHERE s.id = $1 AND t.task_key = $2`
	const capturedSQL = `SELECT COUNT(*) FROM captures WHERE id = $1`
	const listingSQL = listingSelect + ` WHERE target = ` + ofSweep + ` AND url = $2`
	const previousSQL = captureSelect + ` WHERE target = ` + ofSweep + ` AND url = $2 AND id <> $3
		AND change <> 'removed' ORDER BY fetched_at DESC, id DESC LIMIT 1`
	// read scans the answers in order; next returns each in turn, and
	// runs its query only then on SQLite, whose one connection a row
	// holds until it is scanned.
	read := func(next func() rowScanner) error {
		if err := next().Scan(&lk.Gate.SweepStatus, &lk.Gate.TaskState); isNoRows(err) {
			return fmt.Errorf("task %q of sweep %s: %w", key, sweepID, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("reading task %q of sweep %s: %w", key, sweepID, err)
		}
		var n int
		if err := next().Scan(&n); err != nil {
			return fmt.Errorf("looking up capture %s: %w", captureID, err)
		}
		lk.Captured = n > 0
		if l, err := scanListing(next()); err == nil {
			lk.Listing = &l
		} else if !isNoRows(err) {
			return fmt.Errorf("looking up listing %s: %w", url, err)
		}
		if rec, err := scanCapture(next()); err == nil {
			lk.Previous = &rec
		} else if !isNoRows(err) {
			return fmt.Errorf("getting capture of %s before %s: %w", url, captureID, err)
		}
		return nil
	}
	queries := []struct {
		q    string
		args []any
	}{
		{gateSQL, []any{sweepID, key}},
		{capturedSQL, []any{captureID}},
		{listingSQL, []any{sweepID, url}},
		{previousSQL, []any{sweepID, url, captureID}},
	}
	if !c.pipelined() {
		i := 0
		err := read(func() rowScanner {
			q := queries[i]
			i++
			return c.db.QueryRowContext(ctx, q.q, q.args...)
		})
		return lk, err
	}
	err := c.pgConn(ctx, func(conn *pgx.Conn) error {
		b := &pgx.Batch{}
		for _, q := range queries {
			b.Queue(q.q, q.args...)
		}
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		if err := read(func() rowScanner { return br.QueryRow() }); err != nil {
			return err
		}
		return br.Close()
	})
	return lk, err
}

// isNoRows reports whether err is database/sql's or pgx's "no rows".
func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows)
}

// AddTasks is AddTask for each of ts, in one transaction (on PostgreSQL
// in one round trip): added[i] reports whether ts[i] was added. On an
// error none of them is added.
func (c *Catalog) AddTasks(ctx context.Context, ts []SweepTask) (added []bool, err error) {
	for _, t := range ts {
		if err := checkTask(t); err != nil {
			return nil, err
		}
	}
	added = make([]bool, len(ts))
	if len(ts) == 0 {
		return added, nil
	}
	now := unixMicros(catalogNow())
	if !c.pipelined() {
		err = c.inTx(ctx, func(tx *sql.Tx) error {
			for i, t := range ts {
				res, err := tx.ExecContext(ctx, taskInsert, t.SweepID, t.Key, t.Kind, t.URL, t.Page, now)
				if err != nil {
					return taskError(t, err)
				}
				n, err := rowsAffected(res)
				if err != nil {
					return taskError(t, err)
				}
				added[i] = n == 1
			}
			return nil
		})
	} else {
		// The batch runs in one implicit transaction.
		err = c.pgConn(ctx, func(conn *pgx.Conn) error {
			b := &pgx.Batch{}
			for _, t := range ts {
				b.Queue(taskInsert, t.SweepID, t.Key, t.Kind, t.URL, t.Page, now)
			}
			br := conn.SendBatch(ctx, b)
			defer br.Close()
			for i, t := range ts {
				tag, err := br.Exec()
				if err != nil {
					return taskError(t, err)
				}
				added[i] = tag.RowsAffected() == 1
			}
			return br.Close()
		})
	}
	if err != nil {
		return nil, err
	}
	return added, nil
}
