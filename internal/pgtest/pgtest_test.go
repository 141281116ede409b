package pgtest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestNewCreatesAndDrops(t *testing.T) {
	t.Parallel()
	var dsn string
	t.Run("use", func(t *testing.T) {
		dsn = New(t)
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatalf("connecting to the new database: %v", err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (x int)"); err != nil {
			t.Fatalf("writing to the new database: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(name, "wwtest_") {
		t.Fatalf("database name %q lacks the wwtest_ prefix", name)
	}

	conn, err := pgx.Connect(t.Context(), BaseURL())
	if err != nil {
		t.Fatalf("connecting to the base database: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}

func TestNewNamesAreUnique(t *testing.T) {
	t.Parallel()
	a, b := New(t), New(t)
	if a == b {
		t.Fatalf("two calls returned the same database %s", a)
	}
}
