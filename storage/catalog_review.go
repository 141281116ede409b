package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// The review queue reads flags by what a person triaging them filters on:
// besides FlagFilter's target, category, status and sweep, the listing's
// language and a minimum score; it counts the flags of each status, and
// steps from one flag to the next of the same queue.

// ReviewFilter selects flags for the review queue. Zero fields do not
// filter.
type ReviewFilter struct {
	FlagFilter
	// Lang is the listing's language ("en", "zh"), as extracted.
	Lang string
	// MinScore keeps flags scoring at least this much.
	MinScore float64
	// Targets, when not nil, keeps the flags of these targets alone (those
	// of one platform, say); an empty, non-nil list keeps none.
	Targets []string
}

// langExpr is the SQL expression of a flag's listing language.
func (c *Catalog) langExpr() string {
	if c.dialect == DialectPostgres {
		return `(listing::jsonb ->> 'lang')`
	}
	return `json_extract(listing, '$.lang')`
}

// reviewWhere builds the conditions of f; withStatus false leaves the
// status out (for counting every status of one queue).
func (c *Catalog) reviewWhere(f ReviewFilter, withStatus bool) sqlWhere {
	var w sqlWhere
	for _, eq := range []struct{ column, v string }{
		{"target", f.Target}, {"category", f.Category}, {"sweep_id", f.SweepID},
	} {
		if eq.v != "" {
			w.add(eq.column+" = ?", eq.v)
		}
	}
	if withStatus && f.Status != "" {
		w.add("status = ?", f.Status)
	}
	if f.Lang != "" {
		w.add(c.langExpr()+" = ?", f.Lang)
	}
	if f.Targets != nil {
		if len(f.Targets) == 0 {
			w.conds = append(w.conds, "1 = 0")
		} else {
			marks := make([]string, len(f.Targets))
			for i, t := range f.Targets {
				marks[i] = w.arg(t)
			}
			w.conds = append(w.conds, "target IN ("+strings.Join(marks, ", ")+")")
		}
	}
	if f.MinScore > 0 {
		w.add("score >= ?", f.MinScore)
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", unixMicros(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("created_at < ?", unixMicros(f.Until))
	}
	return w
}

// ListReviewFlags returns the flags of a review queue, newest first, with
// their listing and verdict but without reviews.
func (c *Catalog) ListReviewFlags(ctx context.Context, f ReviewFilter) ([]wildwatch.Flag, error) {
	limit, err := pageWindow(f.Limit, f.Offset)
	if err != nil {
		return nil, fmt.Errorf("listing review queue: %w", err)
	}
	w := c.reviewWhere(f, true)
	q := flagSelect + w.String() + ` ORDER BY created_at DESC, id DESC LIMIT ` + w.arg(limit) + ` OFFSET ` + w.arg(f.Offset)
	fs, err := queryAll(ctx, c.db, scanFlag, q, w.args...)
	if err != nil {
		return nil, fmt.Errorf("listing review queue: %w", err)
	}
	return fs, nil
}

// CountReviewFlags counts the flags of a review queue by status, whatever
// f.Status says; a status without flags is absent.
func (c *Catalog) CountReviewFlags(ctx context.Context, f ReviewFilter) (map[string]int, error) {
	w := c.reviewWhere(f, false)
	rows, err := c.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM flags`+w.String()+` GROUP BY status`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("counting review queue: %w", err)
	}
	defer rows.Close()
	n := map[string]int{}
	for rows.Next() {
		var status string
		var count int
		if err := rows.Scan(&status, &count); err != nil {
			return nil, fmt.Errorf("counting review queue: %w", err)
		}
		n[status] = count
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting review queue: %w", err)
	}
	return n, nil
}

// ReviewNeighbours returns the flags before (newer) and after (older) the
// flag id in the queue f, "" where there is none. The flag itself need not
// be in the queue any more (a decision moves it out of a queue of new
// flags): its place is its creation time. ErrNotFound for an unknown flag.
func (c *Catalog) ReviewNeighbours(ctx context.Context, f ReviewFilter, id string) (prev, next string, err error) {
	var created int64
	err = c.db.QueryRowContext(ctx, `SELECT created_at FROM flags WHERE id = $1`, id).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("flag %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("placing flag %s in its queue: %w", id, err)
	}
	step := func(cond, order string) (string, error) {
		w := c.reviewWhere(f, true)
		at, fid := w.arg(created), w.arg(id)
		w.conds = append(w.conds, "("+fmt.Sprintf(cond, at, at, fid)+")")
		var out string
		err := c.db.QueryRowContext(ctx, `SELECT id FROM flags`+w.String()+` ORDER BY `+order+` LIMIT 1`, w.args...).Scan(&out)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return out, err
	}
	if next, err = step("created_at < %s OR (created_at = %s AND id < %s)", "created_at DESC, id DESC"); err != nil {
		return "", "", fmt.Errorf("next flag after %s: %w", id, err)
	}
	if prev, err = step("created_at > %s OR (created_at = %s AND id > %s)", "created_at ASC, id ASC"); err != nil {
		return "", "", fmt.Errorf("flag before %s: %w", id, err)
	}
	return prev, next, nil
}

// ReviewFacets are the values the review queue's filters offer.
type ReviewFacets struct {
	Targets    []string
	Categories []string
	Langs      []string
}

// ReviewFacets returns the targets, categories and languages that flags
// have, each sorted.
func (c *Catalog) ReviewFacets(ctx context.Context) (ReviewFacets, error) {
	var out ReviewFacets
	for _, col := range []struct {
		expr string
		dst  *[]string
	}{{"target", &out.Targets}, {"category", &out.Categories}, {c.langExpr(), &out.Langs}} {
		rows, err := c.db.QueryContext(ctx, `SELECT DISTINCT `+col.expr+` FROM flags WHERE `+col.expr+` IS NOT NULL AND `+col.expr+` <> ''`)
		if err != nil {
			return ReviewFacets{}, fmt.Errorf("reading review facets: %w", err)
		}
		vs := []string{}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return ReviewFacets{}, fmt.Errorf("reading review facets: %w", err)
			}
			vs = append(vs, v)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return ReviewFacets{}, fmt.Errorf("reading review facets: %w", err)
		}
		sort.Strings(vs)
		*col.dst = vs
	}
	return out, nil
}

// FlagsOfCaptures returns the flag each of the captures raised, by capture
// id; a capture that raised none is absent.
func (c *Catalog) FlagsOfCaptures(ctx context.Context, captureIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(captureIDs) == 0 {
		return out, nil
	}
	var w sqlWhere
	marks := make([]string, len(captureIDs))
	for i, id := range captureIDs {
		marks[i] = w.arg(id)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT capture_id, id FROM flags WHERE capture_id IN (`+strings.Join(marks, ", ")+`)`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("finding flags of captures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var capture, id string
		if err := rows.Scan(&capture, &id); err != nil {
			return nil, fmt.Errorf("finding flags of captures: %w", err)
		}
		out[capture] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding flags of captures: %w", err)
	}
	return out, nil
}
