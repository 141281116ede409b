package storage

import (
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports an error of the catalog's database that says the
// database could not be reached or the connection was lost, rather than
// that a statement was wrong: worth trying again once the database is
// back.
func Unavailable(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err)
}
