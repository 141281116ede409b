package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// queryAll runs query and returns its rows, each read by scan, in order:
// an empty (not nil) slice when there are none. Errors are returned as
// the database or scan gave them, for the caller to say what it was doing.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// pageWindow checks a page's limit and offset, applying pageLimit's
// default and maximum to the limit.
func pageWindow(limit, offset int) (int, error) {
	limit, err := pageLimit(limit)
	if err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, fmt.Errorf("offset %d: %w", offset, ErrInvalid)
	}
	return limit, nil
}
