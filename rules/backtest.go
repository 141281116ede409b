package rules

import (
	"cmp"
	"slices"

	"github.com/wildwatch/wildwatch"
)

// BacktestReport is what a candidate rule set (New) would change against
// the current one (Old) over a set of stored listings. Nothing is written
// anywhere.
type BacktestReport struct {
	// Old and New are the matchers' versions, "name@version".
	Old string `json:"old"`
	New string `json:"new"`
	// Listings is the number of distinct listings scored.
	Listings int `json:"listings"`
	// Categories has a row for every category of either rule set, by
	// name.
	Categories []CategoryDelta `json:"categories"`
	// Added are listings that New flags in a category where Old does not
	// flag them (not at all, or in another category); Removed the
	// reverse. At most BacktestExamples of each per category, in input
	// order.
	Added   []BacktestExample `json:"added"`
	Removed []BacktestExample `json:"removed"`
	// ReviewAdded and ReviewRemoved count the listings that enter and
	// leave the review band (scored for review but not flagged).
	ReviewAdded   int `json:"review_added"`
	ReviewRemoved int `json:"review_removed"`
}

// CategoryDelta counts, for one category, the listings New flags in it
// and the flags it adds and removes there. A listing flagged under both
// rule sets but in another category is removed from one and added to the
// other.
type CategoryDelta struct {
	Category string `json:"category"`
	Flagged  int    `json:"flagged"`
	Added    int    `json:"added"`
	Removed  int    `json:"removed"`
}

// BacktestExample is one listing whose flag would change, with the
// matches that explain it: New's for an added flag, Old's for a removed
// one.
type BacktestExample struct {
	ListingID string            `json:"listing_id,omitempty"`
	URL       string            `json:"url,omitempty"`
	Title     string            `json:"title"`
	Category  string            `json:"category"`
	OldScore  float64           `json:"old_score"`
	NewScore  float64           `json:"new_score"`
	Matches   []wildwatch.Match `json:"matches"`
}

// BacktestExamples bounds the examples a report shows per category, of
// added and of removed flags each.
const BacktestExamples = 5

// Backtest scores listings with old and new and reports the difference.
// A listing is identified by its URL, or its ID when it has no URL; when
// one appears more than once the last one given counts (pass captures
// oldest first). Listings with neither are each their own.
func Backtest(old, new *Matcher, listings []wildwatch.Listing) BacktestReport {
	b := NewBacktester(old, new)
	for _, l := range latest(listings) {
		b.Add(l)
	}
	return b.Report()
}

// A Backtester scores listings one at a time with two matchers and keeps
// only the counts and the first examples, so that a backtest over every
// stored listing holds no more than one listing at a time.
type Backtester struct {
	old, new *Matcher
	rep      BacktestReport
	cats     map[string]*CategoryDelta
	shown    map[shownKey]int
}

type shownKey struct {
	added bool
	cat   string
}

// NewBacktester returns a backtest of new against old with no listing yet.
func NewBacktester(old, new *Matcher) *Backtester {
	b := &Backtester{
		old: old, new: new,
		rep: BacktestReport{
			Old: old.Version(), New: new.Version(),
			Added: []BacktestExample{}, Removed: []BacktestExample{},
		},
		cats:  map[string]*CategoryDelta{},
		shown: map[shownKey]int{},
	}
	for _, m := range []*Matcher{new, old} {
		for _, c := range m.cats {
			b.cats[c] = &CategoryDelta{Category: c}
		}
	}
	return b
}

// Add scores one listing. The caller gives each listing once.
func (b *Backtester) Add(l wildwatch.Listing) {
	b.rep.Listings++
	ov, nv := b.old.Match(l), b.new.Match(l)
	oldCat, newCat := flaggedIn(ov), flaggedIn(nv)
	if newCat != "" {
		b.cats[newCat].Flagged++
	}
	if oldCat != newCat {
		if oldCat != "" {
			b.cats[oldCat].Removed++
			b.example(false, l, oldCat, ov, nv)
		}
		if newCat != "" {
			b.cats[newCat].Added++
			b.example(true, l, newCat, ov, nv)
		}
	}
	switch {
	case nv.Review && !ov.Review:
		b.rep.ReviewAdded++
	case ov.Review && !nv.Review:
		b.rep.ReviewRemoved++
	}
}

func (b *Backtester) example(added bool, l wildwatch.Listing, cat string, ov, nv wildwatch.Verdict) {
	k := shownKey{added, cat}
	if b.shown[k] >= BacktestExamples {
		return
	}
	b.shown[k]++
	x := BacktestExample{ListingID: l.ID, URL: l.URL, Title: l.Title, Category: cat, OldScore: ov.Score, NewScore: nv.Score}
	if added {
		x.Matches = nv.Matches
		b.rep.Added = append(b.rep.Added, x)
	} else {
		x.Matches = ov.Matches
		b.rep.Removed = append(b.rep.Removed, x)
	}
}

// Report returns the difference over the listings added so far.
func (b *Backtester) Report() BacktestReport {
	rep := b.rep
	rep.Added, rep.Removed = slices.Clone(rep.Added), slices.Clone(rep.Removed)
	rep.Categories = make([]CategoryDelta, 0, len(b.cats))
	for _, d := range b.cats {
		rep.Categories = append(rep.Categories, *d)
	}
	slices.SortFunc(rep.Categories, func(a, b CategoryDelta) int { return cmp.Compare(a.Category, b.Category) })
	return rep
}

// flaggedIn is the category a verdict flags, "" when it flags none.
func flaggedIn(v wildwatch.Verdict) string {
	if !v.Flagged {
		return ""
	}
	return v.Category
}

// latest drops the listings whose key (URL, else ID) comes again later,
// keeping the order of the others.
func latest(listings []wildwatch.Listing) []wildwatch.Listing {
	last := make(map[string]int, len(listings))
	for i, l := range listings {
		if k := cmp.Or(l.URL, l.ID); k != "" {
			last[k] = i
		}
	}
	if len(last) == len(listings) {
		return listings
	}
	out := make([]wildwatch.Listing, 0, len(last))
	for i, l := range listings {
		if k := cmp.Or(l.URL, l.ID); k == "" || last[k] == i {
			out = append(out, l)
		}
	}
	return out
}
