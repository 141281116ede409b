package storage

import (
	"database/sql"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func testCatalogReviewQueue(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "alpha", 0)
	catSweep(t, c, "s2", "beta", time.Second)
	seed := []struct {
		id, sweep, target, category, lang, status string
		score                                     float64
		at                                        time.Duration
	}{
		{"f1", "s1", "alpha", "ivory", "zh", wildwatch.FlagNew, 0.9, 1 * time.Hour},
		{"f2", "s1", "alpha", "pangolin", "en", wildwatch.FlagConfirmed, 0.5, 2 * time.Hour},
		{"f3", "s2", "beta", "ivory", "en", wildwatch.FlagDismissed, 0.7, 3 * time.Hour},
		{"f4", "s2", "beta", "ivory", "zh", wildwatch.FlagNew, 0.95, 4 * time.Hour},
		{"f5", "s2", "beta", "ivory", "zh", wildwatch.FlagNew, 0.6, 4 * time.Hour},
		{"f6", "s2", "beta", "tiger", "", wildwatch.FlagNew, 0.8, 5 * time.Hour},
	}
	for _, sd := range seed {
		f := catFlag(catCapture(sd.sweep, "cap-"+sd.id, catTime), catTime.Add(sd.at))
		f.ID, f.Target, f.Category, f.Status, f.Score, f.Listing.Lang = sd.id, sd.target, sd.category, sd.status, sd.score, sd.lang
		if _, _, err := c.PutFlag(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	ivoryNew := ReviewFilter{FlagFilter: FlagFilter{Category: "ivory", Status: wildwatch.FlagNew}}
	tests := []struct {
		name string
		f    ReviewFilter
		want []string
	}{
		{"all, newest first", ReviewFilter{}, []string{"f6", "f5", "f4", "f3", "f2", "f1"}},
		{"language", ReviewFilter{Lang: "zh"}, []string{"f5", "f4", "f1"}},
		{"minimum score", ReviewFilter{MinScore: 0.8}, []string{"f6", "f4", "f1"}},
		{"language and score", ReviewFilter{Lang: "zh", MinScore: 0.7}, []string{"f4", "f1"}},
		{"flag filter", ivoryNew, []string{"f5", "f4", "f1"}},
		{"sweep and language", ReviewFilter{FlagFilter: FlagFilter{SweepID: "s2"}, Lang: "en"}, []string{"f3"}},
		{"paged", ReviewFilter{FlagFilter: FlagFilter{Limit: 2, Offset: 1}}, []string{"f5", "f4"}},
		{"no match", ReviewFilter{Lang: "fr"}, nil},
		{"targets", ReviewFilter{Targets: []string{"alpha", "gamma"}}, []string{"f2", "f1"}},
		{"targets and language", ReviewFilter{Targets: []string{"alpha", "beta"}, Lang: "zh"}, []string{"f5", "f4", "f1"}},
		{"no targets", ReviewFilter{Targets: []string{}}, nil},
	}
	for _, tc := range tests {
		fs, err := c.ListReviewFlags(ctx, tc.f)
		if err != nil {
			t.Fatalf("ListReviewFlags(%s): %v", tc.name, err)
		}
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.ID)
		}
		catSame(t, "ListReviewFlags("+tc.name+")", ids, tc.want)
	}
	_, err := c.ListReviewFlags(ctx, ReviewFilter{FlagFilter: FlagFilter{Offset: -1}})
	catErr(t, "ListReviewFlags(negative offset)", err, ErrInvalid)

	// Counts cover every status of the queue, whatever its status filter.
	n, err := c.CountReviewFlags(ctx, ivoryNew)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{wildwatch.FlagNew: 3, wildwatch.FlagDismissed: 1}; !maps.Equal(n, want) {
		t.Errorf("CountReviewFlags(ivory) = %v, want %v", n, want)
	}

	// Stepping through the queue of new ivory flags: f5, f4, f1.
	steps := []struct{ id, prev, next string }{
		{"f5", "", "f4"}, {"f4", "f5", "f1"}, {"f1", "f4", ""},
		// f3 is dismissed, not in the queue; its place still has neighbours.
		{"f3", "f4", "f1"},
	}
	for _, st := range steps {
		prev, next, err := c.ReviewNeighbours(ctx, ivoryNew, st.id)
		if err != nil || prev != st.prev || next != st.next {
			t.Errorf("ReviewNeighbours(%s) = %q, %q, %v; want %q, %q", st.id, prev, next, err, st.prev, st.next)
		}
	}
	if _, err := c.AddReview(ctx, wildwatch.Review{FlagID: "f4", Decision: wildwatch.FlagConfirmed, Reviewer: "ana"}); err != nil {
		t.Fatal(err)
	}
	if prev, next, err := c.ReviewNeighbours(ctx, ivoryNew, "f4"); err != nil || prev != "f5" || next != "f1" {
		t.Errorf("ReviewNeighbours(f4 after confirming) = %q, %q, %v; want f5, f1", prev, next, err)
	}
	_, _, err = c.ReviewNeighbours(ctx, ivoryNew, "nope")
	catErr(t, "ReviewNeighbours(unknown)", err, ErrNotFound)

	facets, err := c.ReviewFacets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "facet targets", facets.Targets, []string{"alpha", "beta"})
	catSame(t, "facet categories", facets.Categories, []string{"ivory", "pangolin", "tiger"})
	catSame(t, "facet languages", facets.Langs, []string{"en", "zh"})
	t.Run("FlagsOfCaptures", func(t *testing.T) { testCatalogFlagsOfCaptures(t, s) })
}

func testCatalogFlagsOfCaptures(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	f, _, err := c.PutFlag(ctx, catFlag(catCapture("s1", "c1", catTime), catTime))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.FlagsOfCaptures(ctx, []string{"c1", "c2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"c1": f.ID}; !maps.Equal(got, want) {
		t.Errorf("FlagsOfCaptures = %v, want %v", got, want)
	}
	if none, err := c.FlagsOfCaptures(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("FlagsOfCaptures(none) = %v, %v", none, err)
	}
}

// testCatalogLangIndex checks that the language filter's expression is the
// one the flags_lang_created index was made on (migration 9), so the
// database can use it.
func testCatalogLangIndex(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	q := `SELECT id FROM flags WHERE ` + c.langExpr() + ` = $1 ORDER BY created_at DESC`
	var plan []string
	err := c.inTx(ctx, func(tx *sql.Tx) error {
		explain := `EXPLAIN QUERY PLAN ` + q
		if c.Dialect() == DialectPostgres {
			// The table is empty: without this the planner would rather scan.
			if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
				return err
			}
			explain = `EXPLAIN ` + q
		}
		rows, err := tx.QueryContext(ctx, explain, "en")
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			plan = append(plan, fmt.Sprint(vals...))
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "flags_lang_created") {
		t.Errorf("the language filter does not use flags_lang_created:\n%s", strings.Join(plan, "\n"))
	}
}
