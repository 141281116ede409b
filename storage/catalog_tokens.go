package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Token is an API token as the catalog keeps it: a name, a role and a hash
// of the secret, never the secret itself. Hashing is the api package's
// business; the catalog compares hashes as opaque text.
type Token struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// PutToken stores t under its name, replacing (rotating) any token of that
// name and ending the console sessions opened with the one replaced. CreatedAt defaults to now. Name, Role and Hash are required; two
// tokens cannot share a hash.
func (c *Catalog) PutToken(ctx context.Context, t Token) error {
	if t.Name == "" || t.Role == "" || t.Hash == "" {
		return fmt.Errorf("putting token %q: name, role and hash are required: %w", t.Name, ErrInvalid)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = catalogNow()
	}
	return c.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash, created_at = excluded.created_at`,
			t.Name, t.Role, t.Hash, unixMicros(t.CreatedAt))
		if err != nil {
			return fmt.Errorf("putting token %s: %w", t.Name, err)
		}
		// A rotated token's console sessions end with the old secret.
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE principal = $1 AND kind = 'token'`, t.Name); err != nil {
			return fmt.Errorf("ending sessions of token %s: %w", t.Name, err)
		}
		return nil
	})
}

// TokenByHash returns the token whose hash is hash.
func (c *Catalog) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, err := scanToken(c.db.QueryRowContext(ctx, `SELECT name, role, hash, created_at FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("getting token: %w", err)
	}
	return t, nil
}

// ListTokens returns every token in name order.
func (c *Catalog) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, role, hash, created_at FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	ts := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return ts, nil
}

// DeleteToken removes the token named name and ends the console sessions
// opened with it.
func (c *Catalog) DeleteToken(ctx context.Context, name string) error {
	if err := c.DeleteSessionsOf(ctx, name, SessionToken); err != nil {
		return err
	}
	res, err := c.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("deleting token %s: %w", name, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("deleting token %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("token %s: %w", name, ErrNotFound)
	}
	return nil
}

func scanToken(r rowScanner) (Token, error) {
	var t Token
	var created int64
	if err := r.Scan(&t.Name, &t.Role, &t.Hash, &created); err != nil {
		return Token{}, err
	}
	t.CreatedAt = timeFromMicros(created)
	return t, nil
}
