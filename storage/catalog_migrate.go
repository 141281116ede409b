package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
)

// catalogMigrations holds the schema, one file per version:
// migrations/0001_init.sql, 0002_….sql. A file, once released, never
// changes; a change to the schema is a new file.
//
//go:embed migrations/*.sql
var catalogMigrations embed.FS

// migrationLockID is the PostgreSQL advisory lock key that serialises
// migrations across processes ("wildwatc" as a big-endian integer).
const migrationLockID = 0x77696c6477617463

// migration is one schema version.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in version order.
func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(catalogMigrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".sql")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", f)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, name, v)
		}
		seen[v] = name
		b, err := catalogMigrations.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", f, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies every migration not yet recorded in schema_migrations,
// each in its own transaction. On PostgreSQL the transaction first takes an
// advisory lock; on SQLite it begins IMMEDIATE and so holds the write lock.
// Either way a second process opening the catalog waits, then finds the
// migration recorded and skips it.
func (c *Catalog) migrate(ctx context.Context) error {
	return c.migrateTo(ctx, math.MaxInt)
}

// migrateTo applies the migrations up to version last, as migrate does.
func (c *Catalog) migrateTo(ctx context.Context, last int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.version > last {
			break
		}
		var applied bool
		err := c.inTx(ctx, func(tx *sql.Tx) error {
			if c.dialect == DialectPostgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockID)); err != nil {
					return fmt.Errorf("taking migration lock: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    BIGINT PRIMARY KEY,
				name       TEXT NOT NULL,
				applied_at BIGINT NOT NULL
			)`); err != nil {
				return fmt.Errorf("creating schema_migrations: %w", err)
			}
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = $1`, m.version).Scan(&one)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("reading schema_migrations: %w", err)
			}
			if err := c.applyMigration(ctx, tx, m); err != nil {
				return fmt.Errorf("applying migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, unixMicros(catalogNow())); err != nil {
				return fmt.Errorf("recording migration %s: %w", m.name, err)
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrating %s catalog: %w", c.dialect, err)
		}
		if applied {
			c.log.InfoContext(ctx, "catalog migration applied", "dialect", c.dialect, "version", m.version, "name", m.name)
		}
	}
	return nil
}
