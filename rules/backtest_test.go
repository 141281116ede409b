package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// backtestOld and backtestNew are two versions of a small pack: New adds a
// term and a category, drops tiger, lowers the flag threshold and moves
// "horn" from rhino_horn to ivory.
const backtestOld = `name: bt
version: 1
thresholds: {flag: 1.0, review: 0.5}
categories:
  - name: ivory
    rules:
      - {id: ivory.tusk, weight: 1.0, terms: {en: [ivory tusk]}}
      - {id: ivory.word, weight: 0.6, terms: {en: [ivory]}}
  - name: rhino_horn
    rules:
      - {id: rhino.horn, weight: 1.0, terms: {en: [horn]}}
  - name: tiger
    rules:
      - {id: tiger.skin, weight: 1.0, terms: {en: [tiger skin]}}
`

const backtestNew = `name: bt
version: 2
thresholds: {flag: 0.9, review: 0.4}
categories:
  - name: ivory
    rules:
      - {id: ivory.tusk, weight: 1.0, terms: {en: [ivory tusk, elephant tusk, horn]}}
      - {id: ivory.word, weight: 0.6, terms: {en: [ivory]}}
      - {id: ivory.bead, weight: 0.45, terms: {en: [bead]}}
  - name: rhino_horn
    rules:
      - {id: rhino.horn, weight: 0.8, terms: {en: [horn]}}
  - name: pangolin
    rules:
      - {id: pangolin.scales, weight: 1.0, terms: {en: [pangolin scales]}}
`

func compileBacktest(t *testing.T, src string) *Matcher {
	t.Helper()
	m, err := Compile(mustParse(t, "bt.yaml", src))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBacktest(t *testing.T) {
	t.Parallel()
	old, new := compileBacktest(t, backtestOld), compileBacktest(t, backtestNew)
	many := func(n int, title string) []wildwatch.Listing {
		var out []wildwatch.Listing
		for i := range n {
			out = append(out, wildwatch.Listing{URL: fmt.Sprintf("u/%s/%d", title, i), Title: title})
		}
		return out
	}
	type counts struct{ flagged, added, removed int }
	tests := []struct {
		name           string
		listings       []wildwatch.Listing
		n              int
		cats           map[string]counts // categories not named count zero
		added, removed string            // example keys, category: URL or ID
		reviewIn       int
		reviewOut      int
	}{
		{
			name:     "unchanged flag",
			listings: []wildwatch.Listing{{URL: "u1", Title: "Ivory tusk"}},
			n:        1,
			cats:     map[string]counts{"ivory": {1, 0, 0}},
		},
		{
			name:     "new term and new category",
			listings: []wildwatch.Listing{{URL: "u1", Title: "Elephant tusk"}, {URL: "u2", Title: "Pangolin scales"}, {URL: "u3", Title: "Bicycle"}},
			n:        3,
			cats:     map[string]counts{"ivory": {1, 1, 0}, "pangolin": {1, 1, 0}},
			added:    "ivory:u1 pangolin:u2",
		},
		{
			name:     "dropped category",
			listings: []wildwatch.Listing{{ID: "x1", Title: "Tiger skin rug"}},
			n:        1,
			cats:     map[string]counts{"tiger": {0, 0, 1}},
			removed:  "tiger:x1",
		},
		{
			name:     "flag moves to another category",
			listings: []wildwatch.Listing{{URL: "u1", Title: "Carved horn"}},
			n:        1,
			cats:     map[string]counts{"ivory": {1, 1, 0}, "rhino_horn": {0, 0, 1}},
			added:    "ivory:u1",
			removed:  "rhino_horn:u1",
		},
		{
			name:      "lower threshold flags what was in review",
			listings:  []wildwatch.Listing{{URL: "u1", Title: "Ivory bead"}},
			n:         1,
			cats:      map[string]counts{"ivory": {1, 1, 0}},
			added:     "ivory:u1",
			reviewOut: 1,
		},
		{
			name:     "lower review threshold",
			listings: []wildwatch.Listing{{URL: "u1", Title: "Glass bead"}},
			n:        1,
			reviewIn: 1,
		},
		{
			name: "a URL given twice counts once, the last one",
			listings: []wildwatch.Listing{
				{URL: "u1", Title: "Tiger skin"}, {URL: "u2", ID: "same-id", Title: "Bicycle"},
				{URL: "u1", Title: "Bicycle"}, {ID: "same-id", Title: "Elephant tusk"},
				{Title: "Pangolin scales"}, {Title: "Pangolin scales"},
			},
			n:     5,
			cats:  map[string]counts{"ivory": {1, 1, 0}, "pangolin": {2, 2, 0}},
			added: "ivory:same-id pangolin: pangolin:",
		},
		{
			name:     "examples are capped per category",
			listings: append(many(7, "Elephant tusk"), many(2, "Pangolin scales")...),
			n:        9,
			cats:     map[string]counts{"ivory": {7, 7, 0}, "pangolin": {2, 2, 0}},
			added: "ivory:u/Elephant tusk/0 ivory:u/Elephant tusk/1 ivory:u/Elephant tusk/2 ivory:u/Elephant tusk/3 ivory:u/Elephant tusk/4 " +
				"pangolin:u/Pangolin scales/0 pangolin:u/Pangolin scales/1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := Backtest(old, new, tc.listings)
			if rep.Old != "bt@1" || rep.New != "bt@2" || rep.Listings != tc.n {
				t.Errorf("report for %s → %s over %d listings, want bt@1 → bt@2 over %d", rep.Old, rep.New, rep.Listings, tc.n)
			}
			var names []string
			for _, c := range rep.Categories {
				names = append(names, c.Category)
				if got := (counts{c.Flagged, c.Added, c.Removed}); got != tc.cats[c.Category] {
					t.Errorf("%s: flagged, added, removed = %v, want %v", c.Category, got, tc.cats[c.Category])
				}
			}
			if got := strings.Join(names, " "); got != "ivory pangolin rhino_horn tiger" {
				t.Errorf("categories %s", got)
			}
			if got := exampleKeys(rep.Added); got != tc.added {
				t.Errorf("added %q, want %q", got, tc.added)
			}
			if got := exampleKeys(rep.Removed); got != tc.removed {
				t.Errorf("removed %q, want %q", got, tc.removed)
			}
			if rep.ReviewAdded != tc.reviewIn || rep.ReviewRemoved != tc.reviewOut {
				t.Errorf("review +%d -%d, want +%d -%d", rep.ReviewAdded, rep.ReviewRemoved, tc.reviewIn, tc.reviewOut)
			}
			for _, x := range append(rep.Added, rep.Removed...) {
				if len(x.Matches) == 0 || x.OldScore == x.NewScore && x.Category == "" {
					t.Errorf("example %+v does not explain itself", x)
				}
			}
		})
	}
}

func exampleKeys(xs []BacktestExample) string {
	var out []string
	for _, x := range xs {
		k := x.URL
		if k == "" {
			k = x.ListingID
		}
		out = append(out, x.Category+":"+k)
	}
	return strings.Join(out, " ")
}
