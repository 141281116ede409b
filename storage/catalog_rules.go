package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// RuleSetVersion is a stored rule set version. Versions are per name and
// increase by one on every apply (1, 2, 3, …). At most one version in the
// whole catalog is active: the one workers match with.
type RuleSetVersion struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Source is the YAML as applied; nil in lists.
	Source []byte `json:"-"`
	// SHA256 is the hex SHA-256 of Source.
	SHA256    string    `json:"sha256"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// putRuleSetAttempts bounds how often PutRuleSet numbers a version again
// after a concurrent apply of the same name took the number.
const putRuleSetAttempts = 100

// PutRuleSet stores src as the next version of name (the latest version
// plus one, starting at 1) unless src's SHA-256 equals the latest
// version's, in which case it returns that version and added is false. An
// older version with the same source does not count: applying it again
// makes a new version. PutRuleSet does not activate the version. The
// catalog does not parse src; it must be non-empty UTF-8 without NUL bytes,
// and name non-empty without '@' (refs are "name@version"), else
// ErrInvalid. Concurrent applies of one name, from any number of
// processes, get distinct versions.
func (c *Catalog) PutRuleSet(ctx context.Context, name string, src []byte, createdBy, note string) (RuleSetVersion, bool, error) {
	switch {
	case name == "" || strings.Contains(name, "@"):
		return RuleSetVersion{}, false, fmt.Errorf("putting rule set %q: name must be non-empty without '@': %w", name, ErrInvalid)
	case len(src) == 0:
		return RuleSetVersion{}, false, fmt.Errorf("putting rule set %s: empty source: %w", name, ErrInvalid)
	case !utf8.Valid(src) || bytes.IndexByte(src, 0) >= 0:
		return RuleSetVersion{}, false, fmt.Errorf("putting rule set %s: source is not UTF-8 text: %w", name, ErrInvalid)
	}
	sum := sha256.Sum256(src)
	v := RuleSetVersion{
		Name: name, Source: bytes.Clone(src), SHA256: hex.EncodeToString(sum[:]),
		CreatedAt: catalogNow(), CreatedBy: createdBy, Note: note,
	}
	// Number optimistically: read the latest version, insert the next and,
	// when a concurrent apply took that number first, read again.
	for range putRuleSetAttempts {
		var latest int
		var latestSHA string
		err := c.db.QueryRowContext(ctx, `SELECT version, sha256 FROM rule_sets WHERE name = $1 ORDER BY version DESC LIMIT 1`,
			name).Scan(&latest, &latestSHA)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return RuleSetVersion{}, false, fmt.Errorf("putting rule set %s: reading latest version: %w", name, err)
		}
		if latest > 0 && latestSHA == v.SHA256 {
			same, err := c.GetRuleSet(ctx, name, latest)
			if err != nil {
				return RuleSetVersion{}, false, fmt.Errorf("putting rule set %s: %w", name, err)
			}
			return same, false, nil
		}
		v.Version = latest + 1
		res, err := c.db.ExecContext(ctx, `INSERT INTO rule_sets (name, version, source, sha256, created_at, created_by, note)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name, version) DO NOTHING`,
			v.Name, v.Version, string(src), v.SHA256, unixMicros(v.CreatedAt), v.CreatedBy, v.Note)
		if err != nil {
			return RuleSetVersion{}, false, fmt.Errorf("putting rule set %s@%d: %w", name, v.Version, err)
		}
		n, err := rowsAffected(res)
		if err != nil {
			return RuleSetVersion{}, false, fmt.Errorf("putting rule set %s@%d: %w", name, v.Version, err)
		}
		if n == 1 {
			return v, true, nil
		}
	}
	return RuleSetVersion{}, false, fmt.Errorf("putting rule set %s: gave up after %d concurrent applies took the next version", name, putRuleSetAttempts)
}

// ruleSetSelect reads rule set versions with whether each is active; the
// source is read only when withSource.
func ruleSetSelect(withSource bool) string {
	source := "''"
	if withSource {
		source = "r.source"
	}
	return `SELECT r.name, r.version, ` + source + `, r.sha256, r.created_at, r.created_by, r.note, a.id IS NOT NULL
		FROM rule_sets r LEFT JOIN active_rule_set a ON a.name = r.name AND a.version = r.version`
}

func scanRuleSet(r rowScanner, withSource bool) (RuleSetVersion, error) {
	var v RuleSetVersion
	var source string
	var created int64
	if err := r.Scan(&v.Name, &v.Version, &source, &v.SHA256, &created, &v.CreatedBy, &v.Note, &v.Active); err != nil {
		return RuleSetVersion{}, err
	}
	v.CreatedAt = timeFromMicros(created)
	if withSource {
		v.Source = []byte(source)
	}
	return v, nil
}

// GetRuleSet returns version version of the rule set name, with its
// source. Version 0 asks for the active version, which must be of name (of
// any name when name is ""): ErrNotFound when none is active or the active
// one is of another name. A negative version is ErrInvalid.
func (c *Catalog) GetRuleSet(ctx context.Context, name string, version int) (RuleSetVersion, error) {
	switch {
	case version < 0:
		return RuleSetVersion{}, fmt.Errorf("getting rule set %s@%d: %w", name, version, ErrInvalid)
	case version == 0:
		v, err := c.ActiveRuleSet(ctx)
		if err != nil {
			return RuleSetVersion{}, err
		}
		if name != "" && v.Name != name {
			return RuleSetVersion{}, fmt.Errorf("active rule set of %s (%s@%d is active): %w", name, v.Name, v.Version, ErrNotFound)
		}
		return v, nil
	}
	v, err := scanRuleSet(c.db.QueryRowContext(ctx, ruleSetSelect(true)+` WHERE r.name = $1 AND r.version = $2`, name, version), true)
	if errors.Is(err, sql.ErrNoRows) {
		return RuleSetVersion{}, fmt.Errorf("rule set %s@%d: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return RuleSetVersion{}, fmt.Errorf("getting rule set %s@%d: %w", name, version, err)
	}
	return v, nil
}

// ListRuleSets returns the versions of the rule set name, newest (highest)
// first; name "" lists every rule set's versions, most recently applied
// first. Source is nil in lists (GetRuleSet has it).
func (c *Catalog) ListRuleSets(ctx context.Context, name string) ([]RuleSetVersion, error) {
	q := ruleSetSelect(false) + ` ORDER BY r.created_at DESC, r.name, r.version DESC`
	var args []any
	if name != "" {
		q = ruleSetSelect(false) + ` WHERE r.name = $1 ORDER BY r.version DESC`
		args = append(args, name)
	}
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing rule sets %q: %w", name, err)
	}
	defer rows.Close()
	vs := []RuleSetVersion{}
	for rows.Next() {
		v, err := scanRuleSet(rows, false)
		if err != nil {
			return nil, fmt.Errorf("listing rule sets %q: %w", name, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing rule sets %q: %w", name, err)
	}
	return vs, nil
}

// ActivateRuleSet makes version version of the rule set name the one
// active version of the catalog; whichever version was active before,
// of any name, no longer is, in the same statement. Of concurrent
// activations the last to commit wins, and exactly one version is active
// after them. ErrNotFound for an unknown version.
func (c *Catalog) ActivateRuleSet(ctx context.Context, name string, version int) error {
	if version < 1 {
		return fmt.Errorf("activating rule set %s@%d: %w", name, version, ErrInvalid)
	}
	res, err := c.db.ExecContext(ctx, `INSERT INTO active_rule_set (id, name, version)
		SELECT 1, name, version FROM rule_sets WHERE name = $1 AND version = $2
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version`, name, version)
	if isForeignKeyViolation(err) {
		// Only a version deleted meanwhile; versions are never deleted.
		return fmt.Errorf("rule set %s@%d: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("activating rule set %s@%d: %w", name, version, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("activating rule set %s@%d: %w", name, version, err)
	}
	if n == 0 {
		return fmt.Errorf("rule set %s@%d: %w", name, version, ErrNotFound)
	}
	return nil
}

// ActiveRuleSet returns the active rule set version with its source;
// ErrNotFound when none is active. It is one primary-key lookup, cheap
// enough for workers to call before every task.
func (c *Catalog) ActiveRuleSet(ctx context.Context) (RuleSetVersion, error) {
	v, err := scanRuleSet(c.db.QueryRowContext(ctx, `SELECT r.name, r.version, r.source, r.sha256, r.created_at, r.created_by, r.note, TRUE
		FROM active_rule_set a JOIN rule_sets r ON r.name = a.name AND r.version = a.version WHERE a.id = 1`), true)
	if errors.Is(err, sql.ErrNoRows) {
		return RuleSetVersion{}, fmt.Errorf("active rule set: %w", ErrNotFound)
	}
	if err != nil {
		return RuleSetVersion{}, fmt.Errorf("getting active rule set: %w", err)
	}
	return v, nil
}
