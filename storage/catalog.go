package storage

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Catalog is the SQL catalog of targets, sweeps, sweep tasks, captures,
// flags, reviews and API tokens. It runs on SQLite (embedded, one file) or
// PostgreSQL (shared by many worker processes) with the same SQL text. A
// Catalog is safe for concurrent use, and several processes may open the
// same database at once. List methods return an empty, non-nil slice when
// nothing matches, so that it encodes as a JSON array.
type Catalog struct {
	db      *sql.DB
	dialect string
	log     *slog.Logger
	// pageSize is how many rows a paged read (EachCaptureListing) fetches
	// per query; 0 means defaultPageSize. Tests make it small.
	pageSize int
	// sweepSpecs caches the target spec of recent sweeps (sweep id →
	// JSON), which never changes once the sweep is created and is read for
	// every task of the sweep.
	sweepSpecsMu sync.Mutex
	sweepSpecs   map[string]string
}

// defaultPageSize is the rows per query of paged reads.
const defaultPageSize = 500

// Dialects a Catalog runs on.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Errors the catalog returns wrapped; test with errors.Is.
var (
	// ErrNotFound reports an unknown target, sweep, task, capture, flag or
	// token.
	ErrNotFound = errors.New("not found")
	// ErrInvalid reports an argument the catalog refuses: a missing id, an
	// unknown status, kind or decision, a negative limit.
	ErrInvalid = errors.New("invalid")
)

// CatalogConfig configures OpenCatalog. Zero fields take their defaults;
// DSN is required.
type CatalogConfig struct {
	// DSN selects the database. "postgres://…" or "postgresql://…" opens
	// PostgreSQL; anything else is a SQLite file path, optionally prefixed
	// "sqlite:" ("sqlite:./data/wildwatch.db"). SQLite paths may also be
	// "file:" URIs.
	DSN string
	// Logger receives what the catalog has to say (migrations applied);
	// nil discards it.
	Logger *slog.Logger
	// MaxOpenConns bounds the PostgreSQL connection pool (default 10).
	// SQLite always uses one connection, its single writer.
	MaxOpenConns int
	// BusyTimeout is how long a SQLite statement waits for a lock held by
	// another process before failing (default 30s).
	BusyTimeout time.Duration
}

func (cfg CatalogConfig) withDefaults() CatalogConfig {
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	cfg.MaxOpenConns = cmp.Or(cfg.MaxOpenConns, 10)
	cfg.BusyTimeout = cmp.Or(cfg.BusyTimeout, 30*time.Second)
	return cfg
}

func (cfg CatalogConfig) validate() error {
	switch {
	case strings.TrimSpace(strings.TrimPrefix(cfg.DSN, "sqlite:")) == "":
		return fmt.Errorf("catalog dsn is empty: %w", ErrInvalid)
	case cfg.MaxOpenConns < 0:
		return fmt.Errorf("catalog max open conns %d: %w", cfg.MaxOpenConns, ErrInvalid)
	case cfg.BusyTimeout < 0:
		return fmt.Errorf("catalog busy timeout %s: %w", cfg.BusyTimeout, ErrInvalid)
	}
	return nil
}

// isPostgresDSN reports whether dsn names a PostgreSQL server.
func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OpenCatalog opens the database cfg.DSN names and brings its schema up to
// date. Two processes opening the same database at once is safe: migrations
// run one at a time.
func OpenCatalog(ctx context.Context, cfg CatalogConfig) (*Catalog, error) {
	c, err := openCatalogDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.migrate(ctx); err != nil {
		c.db.Close()
		return nil, err
	}
	return c, nil
}

// openCatalogDB opens and pings the database cfg.DSN names, leaving its
// schema as it is.
func openCatalogDB(ctx context.Context, cfg CatalogConfig) (*Catalog, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Catalog{log: cfg.Logger}
	if isPostgresDSN(cfg.DSN) {
		db, err := sql.Open("pgx", cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("opening postgres catalog: %w", err)
		}
		db.SetMaxOpenConns(cfg.MaxOpenConns)
		db.SetMaxIdleConns(cfg.MaxOpenConns)
		c.db, c.dialect = db, DialectPostgres
	} else {
		dsn, err := sqliteDSN(cfg)
		if err != nil {
			return nil, err
		}
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("opening sqlite catalog: %w", err)
		}
		// One connection is the single writer: goroutines of this process
		// queue in the pool instead of failing with "database is locked",
		// and other processes are waited for by busy_timeout.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		c.db, c.dialect = db, DialectSQLite
	}
	if err := c.ping(ctx, cfg.BusyTimeout); err != nil {
		c.db.Close()
		return nil, fmt.Errorf("connecting to %s catalog: %w", c.dialect, err)
	}
	return c, nil
}

// ping connects. Two processes opening a new SQLite database at once both
// switch it to WAL, which takes an exclusive lock that SQLite may refuse at
// once rather than through the busy timeout; such a refusal is retried
// until the busy timeout has passed.
func (c *Catalog) ping(ctx context.Context, busy time.Duration) error {
	deadline := time.Now().Add(busy)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := c.db.PingContext(ctx)
		if err == nil || c.dialect != DialectSQLite || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// sqliteDSN turns a catalog DSN into the modernc.org/sqlite driver's: WAL
// journal, busy timeout, foreign keys on, and BEGIN IMMEDIATE for every
// transaction so that a transaction that writes never has to upgrade its
// lock (which fails at once, busy timeout or not).
func sqliteDSN(cfg CatalogConfig) (string, error) {
	path := strings.TrimPrefix(cfg.DSN, "sqlite:")
	if !strings.HasPrefix(path, "file:") && path != ":memory:" {
		file, _, _ := strings.Cut(path, "?")
		if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
			return "", fmt.Errorf("creating catalog directory: %w", err)
		}
	}
	params := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10) + ")",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate",
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + strings.Join(params, "&"), nil
}

// Close closes the database.
func (c *Catalog) Close() error {
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("closing catalog: %w", err)
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (c *Catalog) Dialect() string { return c.dialect }

// inTx runs fn in a transaction and commits it when fn returns nil. On
// SQLite the transaction begins IMMEDIATE (it holds the write lock from the
// start); on PostgreSQL it runs at READ COMMITTED, whatever the server's
// default, which FinishTask's locking relies on.
func (c *Catalog) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var opts *sql.TxOptions
	if c.dialect == DialectPostgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := c.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// Times are stored as BIGINT unix microseconds, UTC.

func unixMicros(t time.Time) int64 { return t.UnixMicro() }

func timeFromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// catalogNow is the current time at the precision the catalog keeps.
func catalogNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// isForeignKeyViolation reports whether err is a database's refusal of a row
// that refers to a missing one.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// rowsAffected returns res.RowsAffected, wrapping its error.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// catalogIDEncoding writes random ids as lower-case base32 without padding.
var catalogIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newCatalogID returns a short random text id (16 characters, 80 bits).
func newCatalogID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return catalogIDEncoding.EncodeToString(b)
}

// sqlWhere builds a WHERE clause with numbered ($1, $2, …) placeholders,
// which both PostgreSQL and modernc.org/sqlite accept.
type sqlWhere struct {
	conds []string
	args  []any
}

// arg appends v to the arguments and returns its placeholder.
func (w *sqlWhere) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// add appends a condition; each "?" in cond becomes the placeholder of v.
func (w *sqlWhere) add(cond string, v any) {
	w.conds = append(w.conds, strings.ReplaceAll(cond, "?", w.arg(v)))
}

func (w *sqlWhere) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// pageLimit applies the default (100) and maximum (1000) page size.
func pageLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("limit %d: %w", limit, ErrInvalid)
	case limit == 0:
		return 100, nil
	case limit > 1000:
		return 1000, nil
	}
	return limit, nil
}
