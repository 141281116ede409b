// Package pgtest gives each test its own PostgreSQL database.
//
// New connects to the server named by WILDWATCH_TEST_POSTGRES (a
// postgres:// URL; default postgres://postgres@127.0.0.1:5432/test?sslmode=disable),
// creates a uniquely named database, drops it when the test ends and returns
// its URL. A server that does not answer fails the test; it never skips.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvVar names the environment variable holding the base URL.
const EnvVar = "WILDWATCH_TEST_POSTGRES"

// DefaultURL is used when EnvVar is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// connectTimeout bounds each connection to the server.
const connectTimeout = 10 * time.Second

// New creates a fresh database, registers its removal with t.Cleanup and
// returns its URL.
func New(t testing.TB) string {
	t.Helper()
	base := BaseURL()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s=%q is not a postgres:// URL", EnvVar, base)
	}
	name := "wwtest_" + randomSuffix(t)

	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL at %s does not answer: %v (start it, or point %s at one)", u.Redacted(), err, EnvVar)
	}
	defer conn.Close(context.Background())
	if err := createDatabase(ctx, conn, name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, base, name) })

	u.Path = "/" + name
	return u.String()
}

// BaseURL returns the server URL tests connect to: EnvVar, or DefaultURL.
func BaseURL() string {
	if v := strings.TrimSpace(os.Getenv(EnvVar)); v != "" {
		return v
	}
	return DefaultURL
}

// createDatabase runs CREATE DATABASE, trying again while the template
// database is busy (PostgreSQL refuses to copy a template another session is
// using, which happens when many tests start at once).
func createDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	for {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func dropDatabase(t testing.TB, base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("pgtest: dropping database %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: dropping database %s: %v", name, err)
	}
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: random name: %v", err)
	}
	return hex.EncodeToString(b)
}
