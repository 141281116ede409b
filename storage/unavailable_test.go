package storage

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection lost", fmt.Errorf("finishing task: %w", driver.ErrBadConn), true},
		{"database cannot be reached", fmt.Errorf("gate: %w", &pgconn.ConnectError{}), true},
		{"a statement refused", &pgconn.PgError{Code: "23505"}, false},
		{"not found", ErrNotFound, false},
		{"anything else", errors.New("x"), false},
	}
	for _, tc := range tests {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
