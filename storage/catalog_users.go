package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is a person who signs in to the console with a name and password.
// Password is a PHC-format hash made by the api package; the catalog
// stores and compares it as opaque text.
type User struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Password  string    `json:"-"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutUser creates u or replaces the user of that name (role, password hash,
// disabled). Name, Role and Password are required. Disabling a user ends
// their sessions; a new role applies to their open sessions at once.
func (c *Catalog) PutUser(ctx context.Context, u User) error {
	if u.Name == "" || u.Role == "" || u.Password == "" {
		return fmt.Errorf("putting user %q: name, role and password hash are required: %w", u.Name, ErrInvalid)
	}
	now := catalogNow()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	return c.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (name, role, password, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (name) DO UPDATE SET role = excluded.role, password = excluded.password, disabled = excluded.disabled, updated_at = excluded.updated_at`,
			u.Name, u.Role, u.Password, u.Disabled, unixMicros(u.CreatedAt), unixMicros(now))
		if err != nil {
			return fmt.Errorf("putting user %s: %w", u.Name, err)
		}
		if u.Disabled {
			if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE principal = $1 AND kind = 'user'`, u.Name); err != nil {
				return fmt.Errorf("ending sessions of user %s: %w", u.Name, err)
			}
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE console_sessions SET role = $2 WHERE principal = $1 AND kind = 'user'`, u.Name, u.Role); err != nil {
			return fmt.Errorf("updating sessions of user %s: %w", u.Name, err)
		}
		return nil
	})
}

// GetUser returns the user named name.
func (c *Catalog) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanUser(c.db.QueryRowContext(ctx, `SELECT name, role, password, disabled, created_at, updated_at FROM users WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("getting user %s: %w", name, err)
	}
	return u, nil
}

// ListUsers returns every user in name order.
func (c *Catalog) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, role, password, disabled, created_at, updated_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	us := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return us, nil
}

// DeleteUser removes the user named name and ends their sessions.
func (c *Catalog) DeleteUser(ctx context.Context, name string) error {
	return c.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = $1`, name)
		if err != nil {
			return fmt.Errorf("deleting user %s: %w", name, err)
		}
		n, err := rowsAffected(res)
		if err != nil {
			return fmt.Errorf("deleting user %s: %w", name, err)
		}
		if n == 0 {
			return fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE principal = $1 AND kind = 'user'`, name); err != nil {
			return fmt.Errorf("ending sessions of user %s: %w", name, err)
		}
		return nil
	})
}

func scanUser(r rowScanner) (User, error) {
	var u User
	var created, updated int64
	if err := r.Scan(&u.Name, &u.Role, &u.Password, &u.Disabled, &created, &updated); err != nil {
		return User{}, err
	}
	u.CreatedAt, u.UpdatedAt = timeFromMicros(created), timeFromMicros(updated)
	return u, nil
}

// Session kinds: how a console session was opened.
const (
	SessionUser  = "user"
	SessionToken = "token"
)

// Session is a console sign-in. IDHash is the SHA-256 of the cookie
// value; the cookie value itself is never stored.
type Session struct {
	IDHash    string
	Principal string
	Kind      string
	Role      string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time // idle expiry, moved on by TouchSession
	MaxAt     time.Time // absolute expiry
	Remote    string
}

// PutSession stores a new session.
func (c *Catalog) PutSession(ctx context.Context, s Session) error {
	if s.IDHash == "" || s.Principal == "" || s.Role == "" || s.CSRF == "" {
		return fmt.Errorf("putting session: id, principal, role and csrf are required: %w", ErrInvalid)
	}
	if s.Kind != SessionUser && s.Kind != SessionToken {
		return fmt.Errorf("putting session: kind %q: %w", s.Kind, ErrInvalid)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = catalogNow()
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO console_sessions (id_hash, principal, kind, role, csrf, created_at, expires_at, max_at, remote)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.IDHash, s.Principal, s.Kind, s.Role, s.CSRF, unixMicros(s.CreatedAt), unixMicros(s.ExpiresAt), unixMicros(s.MaxAt), s.Remote)
	if err != nil {
		return fmt.Errorf("putting session: %w", err)
	}
	return nil
}

// GetSession returns the live session with the hash idHash: one that has
// not expired at now. An expired session is deleted and reported as not
// found.
func (c *Catalog) GetSession(ctx context.Context, idHash string, now time.Time) (Session, error) {
	var s Session
	var created, expires, max int64
	err := c.db.QueryRowContext(ctx, `SELECT id_hash, principal, kind, role, csrf, created_at, expires_at, max_at, remote FROM console_sessions WHERE id_hash = $1`, idHash).
		Scan(&s.IDHash, &s.Principal, &s.Kind, &s.Role, &s.CSRF, &created, &expires, &max, &s.Remote)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("getting session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, s.MaxAt = timeFromMicros(created), timeFromMicros(expires), timeFromMicros(max)
	if !now.Before(s.ExpiresAt) || !now.Before(s.MaxAt) {
		_ = c.DeleteSession(ctx, idHash)
		return Session{}, fmt.Errorf("session expired: %w", ErrNotFound)
	}
	return s, nil
}

// TouchSession moves the idle expiry of a session on to expires (never past
// its absolute expiry).
func (c *Catalog) TouchSession(ctx context.Context, idHash string, expires time.Time) error {
	_, err := c.db.ExecContext(ctx, `UPDATE console_sessions SET expires_at = CASE WHEN $2 < max_at THEN $2 ELSE max_at END WHERE id_hash = $1`,
		idHash, unixMicros(expires))
	if err != nil {
		return fmt.Errorf("renewing session: %w", err)
	}
	return nil
}

// DeleteSession ends a session. Ending one that does not exist is no error.
func (c *Catalog) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := c.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("ending session: %w", err)
	}
	return nil
}

// DeleteSessionsOf ends every session opened as principal of kind (after
// a password change, a token rotation or a removal).
func (c *Catalog) DeleteSessionsOf(ctx context.Context, principal, kind string) error {
	if _, err := c.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE principal = $1 AND kind = $2`, principal, kind); err != nil {
		return fmt.Errorf("ending sessions of %s: %w", principal, err)
	}
	return nil
}

// PruneSessions deletes sessions expired at now and reports how many.
func (c *Catalog) PruneSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := c.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1 OR max_at <= $1`, unixMicros(now))
	if err != nil {
		return 0, fmt.Errorf("pruning sessions: %w", err)
	}
	return rowsAffected(res)
}
