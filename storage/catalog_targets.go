package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wildwatch/wildwatch"
)

// PutTarget stores t under its name, replacing any target of that name.
// source is the document (YAML) as applied, kept for display and export.
func (c *Catalog) PutTarget(ctx context.Context, t wildwatch.Target, source []byte) error {
	if t.Name == "" {
		return fmt.Errorf("putting target: empty name: %w", ErrInvalid)
	}
	spec, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("putting target %s: %w", t.Name, err)
	}
	now := unixMicros(catalogNow())
	_, err = c.db.ExecContext(ctx, `INSERT INTO targets (name, spec, source, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, source = excluded.source, updated_at = excluded.updated_at`,
		t.Name, string(spec), string(source), now)
	if err != nil {
		return fmt.Errorf("putting target %s: %w", t.Name, err)
	}
	return nil
}

// GetTarget returns the target stored under name and its source document.
func (c *Catalog) GetTarget(ctx context.Context, name string) (wildwatch.Target, []byte, error) {
	var spec, source string
	err := c.db.QueryRowContext(ctx, `SELECT spec, source FROM targets WHERE name = $1`, name).Scan(&spec, &source)
	if errors.Is(err, sql.ErrNoRows) {
		return wildwatch.Target{}, nil, fmt.Errorf("target %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return wildwatch.Target{}, nil, fmt.Errorf("getting target %s: %w", name, err)
	}
	t, err := decodeTarget(spec)
	if err != nil {
		return wildwatch.Target{}, nil, fmt.Errorf("getting target %s: %w", name, err)
	}
	return t, []byte(source), nil
}

// ListTargets returns every target in name order.
func (c *Catalog) ListTargets(ctx context.Context) ([]wildwatch.Target, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT spec FROM targets ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing targets: %w", err)
	}
	defer rows.Close()
	ts := []wildwatch.Target{}
	for rows.Next() {
		var spec string
		if err := rows.Scan(&spec); err != nil {
			return nil, fmt.Errorf("listing targets: %w", err)
		}
		t, err := decodeTarget(spec)
		if err != nil {
			return nil, fmt.Errorf("listing targets: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing targets: %w", err)
	}
	return ts, nil
}

// DeleteTarget removes the target stored under name. Its past sweeps keep
// their own copy of it.
func (c *Catalog) DeleteTarget(ctx context.Context, name string) error {
	res, err := c.db.ExecContext(ctx, `DELETE FROM targets WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("deleting target %s: %w", name, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("deleting target %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("target %s: %w", name, ErrNotFound)
	}
	return nil
}

func decodeTarget(spec string) (wildwatch.Target, error) {
	var t wildwatch.Target
	if err := json.Unmarshal([]byte(spec), &t); err != nil {
		return wildwatch.Target{}, fmt.Errorf("decoding target: %w", err)
	}
	return t, nil
}
