package rules

import (
	"cmp"
	"slices"

	"github.com/wildwatch/wildwatch"
)

// BacktestReport is what a candidate rule set would change against the
// current one over a set of stored listings. Nothing is written anywhere.
type BacktestReport struct {
	Old        string          `json:"old"`
	New        string          `json:"new"`
	Listings   int             `json:"listings"`
	Categories []CategoryDelta `json:"categories"`
	// Added are listings the candidate flags and the current set does not;
	// Removed the reverse. At most examplesPerCategory per category.
	Added         []BacktestExample `json:"added"`
	Removed       []BacktestExample `json:"removed"`
	ReviewAdded   int               `json:"review_added"`
	ReviewRemoved int               `json:"review_removed"`
}

// CategoryDelta counts, for one category, the listings the candidate flags
// and how many flags it adds and removes.
type CategoryDelta struct {
	Category string `json:"category"`
	Flagged  int    `json:"flagged"`
	Added    int    `json:"added"`
	Removed  int    `json:"removed"`
}

// BacktestExample is one listing whose flag would change.
type BacktestExample struct {
	ListingID string            `json:"listing_id,omitempty"`
	URL       string            `json:"url,omitempty"`
	Title     string            `json:"title"`
	Category  string            `json:"category"`
	OldScore  float64           `json:"old_score"`
	NewScore  float64           `json:"new_score"`
	Matches   []wildwatch.Match `json:"matches"`
}

const examplesPerCategory = 5

// Backtest scores listings with old and new and reports the difference.
func Backtest(old, new *Matcher, listings []wildwatch.Listing) BacktestReport {
	rep := BacktestReport{Old: old.Version(), New: new.Version(), Listings: len(listings), Added: []BacktestExample{}, Removed: []BacktestExample{}}
	cats := map[string]*CategoryDelta{}
	delta := func(c string) *CategoryDelta {
		if cats[c] == nil {
			cats[c] = &CategoryDelta{Category: c}
		}
		return cats[c]
	}
	shown := map[string]int{} // "added/ivory" → examples so far
	example := func(kind string, l wildwatch.Listing, cat string, ov, nv wildwatch.Verdict, matches []wildwatch.Match) {
		if shown[kind+"/"+cat] >= examplesPerCategory {
			return
		}
		shown[kind+"/"+cat]++
		x := BacktestExample{ListingID: l.ID, URL: l.URL, Title: l.Title, Category: cat, OldScore: ov.Score, NewScore: nv.Score, Matches: matches}
		if kind == "added" {
			rep.Added = append(rep.Added, x)
		} else {
			rep.Removed = append(rep.Removed, x)
		}
	}
	for _, l := range listings {
		ov, nv := old.Match(l), new.Match(l)
		if nv.Flagged {
			delta(nv.Category).Flagged++
		}
		switch {
		case nv.Flagged && !ov.Flagged:
			delta(nv.Category).Added++
			example("added", l, nv.Category, ov, nv, nv.Matches)
		case ov.Flagged && !nv.Flagged:
			delta(ov.Category).Removed++
			example("removed", l, ov.Category, ov, nv, ov.Matches)
		}
		switch {
		case nv.Review && !ov.Review:
			rep.ReviewAdded++
		case ov.Review && !nv.Review:
			rep.ReviewRemoved++
		}
	}
	for _, d := range cats {
		rep.Categories = append(rep.Categories, *d)
	}
	slices.SortFunc(rep.Categories, func(a, b CategoryDelta) int { return cmp.Compare(a.Category, b.Category) })
	return rep
}
