package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// Searches for investigators: listings across targets and sweeps by what
// their captures read (title, description, seller, URL), a seller's
// listings, and flags by seller or sweep to build a case from. The
// listing's fields are those of its last capture that showed it (its
// last_capture); the search reads them from the capture's listing JSON.

// ListingQuery selects listings for SearchListings. Zero fields do not
// filter.
type ListingQuery struct {
	// Text is matched, case-insensitively, as a substring of the title,
	// description, seller and URL; a listing matches when any of them
	// holds it. Case folding is the database's LOWER: SQLite folds ASCII
	// letters only.
	Text   string
	Target string
	// ExcludeTarget leaves out one target's listings (a seller's listings
	// elsewhere).
	ExcludeTarget string
	// Platform and Seller match the listing's platform and seller name
	// exactly, ignoring case.
	Platform string
	Seller   string
	// State is wildwatch.ListingActive or ListingRemoved.
	State string
	// FlaggedOnly keeps listings with at least one flag.
	FlaggedOnly bool
	// Limit bounds the listings returned (default 100, at most 1000);
	// Offset skips that many first.
	Limit  int
	Offset int
}

// ListingMatch is a listing SearchListings found.
type ListingMatch struct {
	Status wildwatch.ListingStatus `json:"status"`
	// Listing is what the listing's last capture that showed it read.
	Listing wildwatch.Listing `json:"listing"`
	// Flags counts the flags of the listing's captures; Categories are
	// their categories, in name order.
	Flags      int      `json:"flags"`
	Categories []string `json:"categories,omitempty"`
}

// jsonText is the SQL expression of a text field of a JSON column, ""
// when the field is missing.
func (c *Catalog) jsonText(column, field string) string {
	if c.dialect == DialectPostgres {
		return "COALESCE(CAST(" + column + " AS json) ->> '" + field + "', '')"
	}
	return "COALESCE(json_extract(" + column + ", '$." + field + "'), '')"
}

// likePattern is the LIKE pattern (with ESCAPE '\') of a case-folded
// substring.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// SearchListings returns the listings q selects, the most recently seen
// first (then by target and URL).
func (c *Catalog) SearchListings(ctx context.Context, q ListingQuery) ([]ListingMatch, error) {
	limit, err := pageWindow(q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("searching listings: %w", err)
	}
	if q.State != "" && q.State != wildwatch.ListingActive && q.State != wildwatch.ListingRemoved {
		return nil, fmt.Errorf("searching listings: state %q: %w", q.State, ErrInvalid)
	}
	var w sqlWhere
	if q.Target != "" {
		w.add("l.target = ?", q.Target)
	}
	if q.ExcludeTarget != "" {
		w.add("l.target <> ?", q.ExcludeTarget)
	}
	if q.State != "" {
		w.add("l.state = ?", q.State)
	}
	if q.Platform != "" {
		w.add("LOWER("+c.jsonText("c.listing", "platform")+") = ?", strings.ToLower(q.Platform))
	}
	c.matchListing(&w, "c.listing", "l.url", q.Seller, q.Text)
	if q.FlaggedOnly {
		w.conds = append(w.conds, "EXISTS (SELECT 1 FROM flags f WHERE f.target = l.target AND f.url = l.url)")
	}
	query := `SELECT l.target, l.url, l.listing_id, l.state, l.first_seen, l.first_capture, l.last_seen, l.last_capture,
		l.last_changed, l.removed_at, l.removed_capture, l.captures, c.listing
		FROM listings l JOIN captures c ON c.id = l.last_capture` + w.String() +
		` ORDER BY l.last_seen DESC, l.target, l.url LIMIT ` + w.arg(limit) + ` OFFSET ` + w.arg(q.Offset)
	ms, err := queryAll(ctx, c.db, scanListingMatch, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("searching listings: %w", err)
	}
	if err := c.listingFlags(ctx, ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// scanListingMatch reads a row of SearchListings' query.
func scanListingMatch(r rowScanner) (ListingMatch, error) {
	var m ListingMatch
	var listing string
	var first, last, changed int64
	var removed sql.NullInt64
	l := &m.Status
	if err := r.Scan(&l.Target, &l.URL, &l.ListingID, &l.State, &first, &l.FirstCapture, &last, &l.LastCapture,
		&changed, &removed, &l.RemovedCapture, &l.Captures, &listing); err != nil {
		return ListingMatch{}, err
	}
	l.FirstSeen, l.LastSeen, l.LastChanged = timeFromMicros(first), timeFromMicros(last), timeFromMicros(changed)
	if removed.Valid {
		t := timeFromMicros(removed.Int64)
		l.RemovedAt = &t
	}
	if err := json.Unmarshal([]byte(listing), &m.Listing); err != nil {
		return ListingMatch{}, fmt.Errorf("capture %s: %w", l.LastCapture, err)
	}
	return m, nil
}

// matchListing adds to w the seller and text conditions of a search over
// listings: listing is the column of the listing JSON, url that of its
// URL. Empty seller and text add nothing.
func (c *Catalog) matchListing(w *sqlWhere, listing, url, seller, text string) {
	if seller != "" {
		w.add("LOWER("+c.jsonText(listing, "seller")+") = ?", strings.ToLower(strings.TrimSpace(seller)))
	}
	if t := strings.TrimSpace(text); t != "" {
		p := w.arg(likePattern(t))
		var ors []string
		for _, f := range []string{"title", "description", "seller"} {
			ors = append(ors, "LOWER("+c.jsonText(listing, f)+") LIKE "+p+` ESCAPE '\'`)
		}
		ors = append(ors, "LOWER("+url+") LIKE "+p+` ESCAPE '\'`)
		w.conds = append(w.conds, "("+strings.Join(ors, " OR ")+")")
	}
}

// listingFlags fills the Flags and Categories of the listings of ms, in
// one query for the page.
func (c *Catalog) listingFlags(ctx context.Context, ms []ListingMatch) error {
	var w sqlWhere
	var ins []string
	at := map[[2]string][]int{}
	for i, m := range ms {
		k := [2]string{m.Status.Target, m.Status.URL}
		if _, seen := at[k]; !seen {
			ins = append(ins, w.arg(m.Status.URL))
		}
		at[k] = append(at[k], i)
	}
	if len(ins) == 0 {
		return nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT target, url, category, COUNT(*) FROM flags WHERE url IN (`+strings.Join(ins, ", ")+`)
		GROUP BY target, url, category`, w.args...)
	if err != nil {
		return fmt.Errorf("reading flags of listings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var target, url, category string
		var n int
		if err := rows.Scan(&target, &url, &category, &n); err != nil {
			return fmt.Errorf("reading flags of listings: %w", err)
		}
		for _, i := range at[[2]string{target, url}] {
			ms[i].Categories = append(ms[i].Categories, category)
			ms[i].Flags += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading flags of listings: %w", err)
	}
	for i := range ms {
		sort.Strings(ms[i].Categories)
	}
	return nil
}

// ListingPlatforms returns the platforms of the catalog's listings (as
// their last captures read them), in name order.
func (c *Catalog) ListingPlatforms(ctx context.Context) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT DISTINCT `+c.jsonText("c.listing", "platform")+` AS p
		FROM listings l JOIN captures c ON c.id = l.last_capture ORDER BY p`)
	if err != nil {
		return nil, fmt.Errorf("listing platforms: %w", err)
	}
	defer rows.Close()
	ps := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("listing platforms: %w", err)
		}
		if p != "" {
			ps = append(ps, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing platforms: %w", err)
	}
	return ps, nil
}

// FlagQuery selects flags for SearchFlags. Zero fields do not filter.
type FlagQuery struct {
	// Text is matched like ListingQuery.Text, over the flag's listing
	// (title, description, seller) and its URL.
	Text string
	// Seller matches the flag's listing's seller exactly, ignoring case.
	Seller  string
	Target  string
	SweepID string
	// URL matches the flag's listing URL exactly.
	URL string
	// Limit bounds the flags returned (default 100, at most 1000); Offset
	// skips that many first.
	Limit  int
	Offset int
}

// SearchFlags returns the flags q selects, newest first, with their
// listing and verdict but without reviews.
func (c *Catalog) SearchFlags(ctx context.Context, q FlagQuery) ([]wildwatch.Flag, error) {
	limit, err := pageWindow(q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("searching flags: %w", err)
	}
	var w sqlWhere
	if q.Target != "" {
		w.add("target = ?", q.Target)
	}
	if q.SweepID != "" {
		w.add("sweep_id = ?", q.SweepID)
	}
	if q.URL != "" {
		w.add("url = ?", q.URL)
	}
	c.matchListing(&w, "listing", "url", q.Seller, q.Text)
	query := flagSelect + w.String() + ` ORDER BY created_at DESC, id DESC LIMIT ` + w.arg(limit) + ` OFFSET ` + w.arg(q.Offset)
	fs, err := queryAll(ctx, c.db, scanFlag, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("searching flags: %w", err)
	}
	return fs, nil
}
