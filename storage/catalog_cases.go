package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Case is a set of flags an investigator builds up to export together.
type Case struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Notes     string     `json:"notes"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Flags     []CaseFlag `json:"flags,omitempty"`
}

// CaseFlag is a flag's place in a case.
type CaseFlag struct {
	FlagID  string    `json:"flag_id"`
	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`
}

// PutCase creates a case or updates its name and notes. ID and Name are
// required.
func (c *Catalog) PutCase(ctx context.Context, k Case) error {
	if k.ID == "" || strings.TrimSpace(k.Name) == "" {
		return fmt.Errorf("putting case %q: id and name are required: %w", k.ID, ErrInvalid)
	}
	now := catalogNow()
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO cases (id, name, notes, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, notes = excluded.notes, updated_at = excluded.updated_at`,
		k.ID, k.Name, k.Notes, k.CreatedBy, unixMicros(k.CreatedAt), unixMicros(now))
	if err != nil {
		return fmt.Errorf("putting case %s: %w", k.ID, err)
	}
	return nil
}

// GetCase returns a case with its flags in the order they were added.
func (c *Catalog) GetCase(ctx context.Context, id string) (Case, error) {
	k, err := scanCase(c.db.QueryRowContext(ctx, `SELECT id, name, notes, created_by, created_at, updated_at FROM cases WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, fmt.Errorf("case %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Case{}, fmt.Errorf("getting case %s: %w", id, err)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT flag_id, added_by, added_at FROM case_flags WHERE case_id = $1 ORDER BY added_at, flag_id`, id)
	if err != nil {
		return Case{}, fmt.Errorf("getting case %s: %w", id, err)
	}
	defer rows.Close()
	k.Flags = []CaseFlag{}
	for rows.Next() {
		var f CaseFlag
		var at int64
		if err := rows.Scan(&f.FlagID, &f.AddedBy, &at); err != nil {
			return Case{}, fmt.Errorf("getting case %s: %w", id, err)
		}
		f.AddedAt = timeFromMicros(at)
		k.Flags = append(k.Flags, f)
	}
	if err := rows.Err(); err != nil {
		return Case{}, fmt.Errorf("getting case %s: %w", id, err)
	}
	return k, nil
}

// ListCases returns every case, most recently changed first, without
// their flags.
func (c *Catalog) ListCases(ctx context.Context) ([]Case, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, name, notes, created_by, created_at, updated_at FROM cases ORDER BY updated_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("listing cases: %w", err)
	}
	defer rows.Close()
	ks := []Case{}
	for rows.Next() {
		k, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("listing cases: %w", err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing cases: %w", err)
	}
	return ks, nil
}

// AddCaseFlags adds flags to a case; flags already in it stay as they
// were. Every flag must exist.
func (c *Catalog) AddCaseFlags(ctx context.Context, caseID, by string, flagIDs ...string) error {
	return c.inTx(ctx, func(tx *sql.Tx) error {
		now := catalogNow()
		res, err := tx.ExecContext(ctx, `UPDATE cases SET updated_at = $2 WHERE id = $1`, caseID, unixMicros(now))
		if err != nil {
			return fmt.Errorf("adding to case %s: %w", caseID, err)
		}
		if n, err := rowsAffected(res); err != nil || n == 0 {
			if err != nil {
				return fmt.Errorf("adding to case %s: %w", caseID, err)
			}
			return fmt.Errorf("case %s: %w", caseID, ErrNotFound)
		}
		for _, id := range flagIDs {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM flags WHERE id = $1`, id).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("flag %s: %w", id, ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("adding flag %s to case %s: %w", id, caseID, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_flags (case_id, flag_id, added_by, added_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (case_id, flag_id) DO NOTHING`, caseID, id, by, unixMicros(now)); err != nil {
				return fmt.Errorf("adding flag %s to case %s: %w", id, caseID, err)
			}
		}
		return nil
	})
}

// RemoveCaseFlag takes a flag out of a case.
func (c *Catalog) RemoveCaseFlag(ctx context.Context, caseID, flagID string) error {
	res, err := c.db.ExecContext(ctx, `DELETE FROM case_flags WHERE case_id = $1 AND flag_id = $2`, caseID, flagID)
	if err != nil {
		return fmt.Errorf("removing flag %s from case %s: %w", flagID, caseID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("removing flag %s from case %s: %w", flagID, caseID, err)
	}
	if n == 0 {
		return fmt.Errorf("flag %s in case %s: %w", flagID, caseID, ErrNotFound)
	}
	_, err = c.db.ExecContext(ctx, `UPDATE cases SET updated_at = $2 WHERE id = $1`, caseID, unixMicros(catalogNow()))
	return err
}

// DeleteCase removes a case (not its flags).
func (c *Catalog) DeleteCase(ctx context.Context, id string) error {
	return c.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM case_flags WHERE case_id = $1`, id); err != nil {
			return fmt.Errorf("deleting case %s: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM cases WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("deleting case %s: %w", id, err)
		}
		n, err := rowsAffected(res)
		if err != nil {
			return fmt.Errorf("deleting case %s: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("case %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

func scanCase(r rowScanner) (Case, error) {
	var k Case
	var created, updated int64
	if err := r.Scan(&k.ID, &k.Name, &k.Notes, &k.CreatedBy, &created, &updated); err != nil {
		return Case{}, err
	}
	k.CreatedAt, k.UpdatedAt = timeFromMicros(created), timeFromMicros(updated)
	return k, nil
}
