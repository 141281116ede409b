package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// A migration is one SQL text for both dialects, except where a line
//
//	-- dialect: sqlite
//	-- dialect: postgres
//
// begins a part for that dialect alone; "-- dialect: all" begins a part
// for both again. What SQL cannot do on a dialect is a Go step
// (migrationSteps), run after the migration's SQL in its transaction.

// dialectMarker starts a line that opens a dialect's part.
const dialectMarker = "-- dialect:"

// migrationSQL returns the parts of a migration's text for dialect.
func migrationSQL(text, dialect string) string {
	var b strings.Builder
	keep := true
	for line := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), dialectMarker); ok {
			d := strings.TrimSpace(rest)
			keep = d == "all" || d == dialect
			continue
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// migrationSteps are the Go steps of migrations, by version and dialect.
var migrationSteps = map[int]map[string]func(ctx context.Context, tx *sql.Tx) error{
	6: {DialectSQLite: relaxLifecycleChecks},
	8: {DialectSQLite: relaxReviewChecks},
}

// applyMigration runs m's SQL for the catalog's dialect, then its Go step,
// in tx.
func (c *Catalog) applyMigration(ctx context.Context, tx *sql.Tx, m migration) error {
	if q := migrationSQL(m.sql, c.dialect); strings.TrimSpace(q) != "" {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if step := migrationSteps[m.version][c.dialect]; step != nil {
		return step(ctx, tx)
	}
	return nil
}

// relaxLifecycleChecks widens, on SQLite, the CHECK constraints of
// sweeps.status and sweep_tasks.state to the statuses and states of
// migration 6. SQLite cannot alter a constraint, and rebuilding sweeps
// would need its foreign keys off, which cannot be switched in a
// transaction. So the tables' definitions are rewritten in sqlite_master,
// the way SQLite documents for loosening a constraint
// (https://www.sqlite.org/lang_altertable.html, "making other kinds of
// table schema changes"): every stored row satisfies the wider constraint,
// and the schema version is raised so that every connection reads the new
// definitions.
func relaxLifecycleChecks(ctx context.Context, tx *sql.Tx) error {
	return widenSQLiteChecks(ctx, tx, []checkEdit{
		{"sweeps",
			"CHECK (status IN ('queued', 'running', 'finished', 'failed'))",
			"CHECK (status IN ('queued', 'running', 'paused', 'cancelled', 'finished', 'failed'))"},
		{"sweep_tasks",
			"CHECK (state IN ('pending', 'done', 'failed'))",
			"CHECK (state IN ('pending', 'parked', 'done', 'failed', 'cancelled'))"},
	})
}

// relaxReviewChecks widens, on SQLite, flags.status and reviews.decision
// to take 'review' (migration 8), the way relaxLifecycleChecks does.
func relaxReviewChecks(ctx context.Context, tx *sql.Tx) error {
	return widenSQLiteChecks(ctx, tx, []checkEdit{
		{"flags",
			"CHECK (status IN ('new', 'confirmed', 'dismissed'))",
			"CHECK (status IN ('new', 'confirmed', 'dismissed', 'review'))"},
		{"reviews",
			"CHECK (decision IN ('confirmed', 'dismissed'))",
			"CHECK (decision IN ('confirmed', 'dismissed', 'review'))"},
	})
}

// checkEdit replaces the text from, found once in table's definition, with to.
type checkEdit struct{ table, from, to string }

// widenSQLiteChecks rewrites table definitions in sqlite_master; every
// edit must only widen a constraint that every stored row satisfies.
func widenSQLiteChecks(ctx context.Context, tx *sql.Tx, edits []checkEdit) error {
	var version int64
	if err := tx.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA writable_schema = ON`); err != nil {
		return fmt.Errorf("editing schema: %w", err)
	}
	for _, e := range edits {
		var def string
		if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1`, e.table).Scan(&def); err != nil {
			return fmt.Errorf("reading definition of %s: %w", e.table, err)
		}
		if strings.Count(def, e.from) != 1 {
			return fmt.Errorf("definition of %s does not hold %q once: %s", e.table, e.from, def)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sqlite_master SET sql = $1 WHERE type = 'table' AND name = $2`,
			strings.Replace(def, e.from, e.to, 1), e.table); err != nil {
			return fmt.Errorf("rewriting definition of %s: %w", e.table, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA schema_version = %d`, version+1)); err != nil {
		return fmt.Errorf("raising schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA writable_schema = OFF`); err != nil {
		return fmt.Errorf("editing schema: %w", err)
	}
	var check string
	if err := tx.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil || check != "ok" {
		return fmt.Errorf("schema check after widening constraints: %q, %v", check, err)
	}
	return nil
}
