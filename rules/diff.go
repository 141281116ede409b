package rules

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Kinds of Change.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// Change is one difference between two rule sets. Path names what changed
// the way the YAML document nests it, with categories, rules and
// exclusions by name or ID and term lists by language:
// "categories.ivory.rules.ivory.product.terms.en". A term, regular
// expression or rule ID added to or removed from a list is one Change with
// the item in New or Old; an added or removed category, rule or exclusion
// is one Change with a summary of it ("weight 0.6, 12 terms").
type Change struct {
	Kind string `json:"kind"` // ChangeAdded, ChangeRemoved or ChangeChanged
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Diff lists what changed from old to new, in document order: thresholds
// and obfuscation weight, negation, rule-set exclusions, the order of the
// categories (a tie between category scores goes to the earlier one), then
// category by category, rule by rule. Within a list, removed items come
// before added ones. A nil rule set counts as an empty one. Name, version,
// file and line numbers are not compared: they identify a rule set rather
// than say what it does.
func Diff(old, new *RuleSet) []Change {
	if old == nil {
		old = &RuleSet{}
	}
	if new == nil {
		new = &RuleSet{}
	}
	var d differ
	d.number("thresholds.flag", old.Threshold, new.Threshold)
	d.number("thresholds.review", old.ReviewThreshold, new.ReviewThreshold)
	d.number("obfuscation_weight", old.ObfuscationWeight, new.ObfuscationWeight)
	d.value("negation.window", strconv.Itoa(old.Negation.Window), strconv.Itoa(new.Negation.Window))
	d.terms("negation.before", old.Negation.Before, new.Negation.Before)
	d.terms("negation.after", old.Negation.After, new.Negation.After)
	d.exclusions("exclusions", old.Exclusions, new.Exclusions)

	oldCats := keyed(old.Categories, func(c Category) string { return c.Name })
	newCats := keyed(new.Categories, func(c Category) string { return c.Name })
	var oldOrder, newOrder []string // of the categories in both
	for _, c := range old.Categories {
		if _, ok := newCats[c.Name]; ok {
			oldOrder = append(oldOrder, c.Name)
		}
	}
	for _, c := range new.Categories {
		if _, ok := oldCats[c.Name]; ok {
			newOrder = append(newOrder, c.Name)
		}
	}
	// Ties between category scores go to the earlier category.
	d.value("categories.order", strings.Join(oldOrder, ", "), strings.Join(newOrder, ", "))
	for _, oc := range old.Categories {
		path := "categories." + oc.Name
		nc, ok := newCats[oc.Name]
		if !ok {
			d.add(ChangeRemoved, path, categorySummary(oc), "")
			continue
		}
		d.rules(path+".rules", oc.Rules, nc.Rules)
		d.exclusions(path+".exclusions", oc.Exclusions, nc.Exclusions)
	}
	for _, nc := range new.Categories {
		if _, ok := oldCats[nc.Name]; !ok {
			d.add(ChangeAdded, "categories."+nc.Name, "", categorySummary(nc))
		}
	}
	return d.changes
}

type differ struct{ changes []Change }

func (d *differ) add(kind, path, old, new string) {
	d.changes = append(d.changes, Change{Kind: kind, Path: path, Old: old, New: new})
}

func (d *differ) value(path, old, new string) {
	if old != new {
		d.add(ChangeChanged, path, old, new)
	}
}

func (d *differ) number(path string, old, new float64) {
	if old != new {
		d.add(ChangeChanged, path, formatNumber(old), formatNumber(new))
	}
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// list reports the items removed from and added to a list, each once.
func (d *differ) list(path string, old, new []string) {
	for _, s := range dedupe(old) {
		if !slices.Contains(new, s) {
			d.add(ChangeRemoved, path, s, "")
		}
	}
	for _, s := range dedupe(new) {
		if !slices.Contains(old, s) {
			d.add(ChangeAdded, path, "", s)
		}
	}
}

// terms reports terms removed and added, language by language.
func (d *differ) terms(path string, old, new Terms) {
	var langs []string
	for l := range old {
		langs = append(langs, l)
	}
	for l := range new {
		if _, ok := old[l]; !ok {
			langs = append(langs, l)
		}
	}
	slices.Sort(langs)
	for _, l := range langs {
		p := path
		if l != "" {
			p += "." + l
		}
		d.list(p, old[l], new[l])
	}
}

func (d *differ) rules(path string, old, new []Rule) {
	newRules := keyed(new, func(r Rule) string { return r.ID })
	oldRules := keyed(old, func(r Rule) string { return r.ID })
	for _, o := range old {
		p := path + "." + o.ID
		n, ok := newRules[o.ID]
		if !ok {
			d.add(ChangeRemoved, p, ruleSummary(o), "")
			continue
		}
		d.number(p+".weight", o.Weight, n.Weight)
		d.number(p+".max", o.Max, n.Max)
		d.terms(p+".terms", o.Terms, n.Terms)
		d.list(p+".regex", o.Regex, n.Regex)
		d.terms(p+".requires", o.Requires, n.Requires)
		d.value(p+".within", withinText(o.Within), withinText(n.Within))
		d.list(p+".requires_rules", o.RequiresRules, n.RequiresRules)
	}
	for _, n := range new {
		if _, ok := oldRules[n.ID]; !ok {
			d.add(ChangeAdded, path+"."+n.ID, "", ruleSummary(n))
		}
	}
}

func (d *differ) exclusions(path string, old, new []Exclusion) {
	newExcls := keyed(new, func(x Exclusion) string { return x.ID })
	oldExcls := keyed(old, func(x Exclusion) string { return x.ID })
	for _, o := range old {
		p := path + "." + o.ID
		n, ok := newExcls[o.ID]
		if !ok {
			d.add(ChangeRemoved, p, exclusionSummary(o), "")
			continue
		}
		d.terms(p+".terms", o.Terms, n.Terms)
		d.list(p+".regex", o.Regex, n.Regex)
		d.value(p+".window", strconv.Itoa(o.Window), strconv.Itoa(n.Window))
		d.value(p+".scope", scope(o), scope(n))
		d.list(p+".rules", o.Rules, n.Rules)
		d.terms(p+".unless", o.Unless, n.Unless)
		d.terms(p+".except", o.Except, n.Except)
	}
	for _, n := range new {
		if _, ok := oldExcls[n.ID]; !ok {
			d.add(ChangeAdded, path+"."+n.ID, "", exclusionSummary(n))
		}
	}
}

func scope(x Exclusion) string {
	if x.Listing {
		return "listing"
	}
	return "near"
}

// keyed indexes items by key; the first of two items with one key wins.
func keyed[T any](items []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		if _, dup := m[key(it)]; !dup {
			m[key(it)] = it
		}
	}
	return m
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func categorySummary(c Category) string {
	terms := 0
	for _, r := range c.Rules {
		terms += len(r.Terms.all())
	}
	return plural(len(c.Rules), "rule", "rules") + ", " + plural(len(c.Exclusions), "exclusion", "exclusions") +
		", " + plural(terms, "term", "terms")
}

func ruleSummary(r Rule) string {
	s := "weight " + formatNumber(r.Weight)
	if r.Max > 0 {
		s += ", max " + formatNumber(r.Max)
	}
	s += ", " + plural(len(r.Terms.all()), "term", "terms")
	if len(r.Regex) > 0 {
		s += ", " + plural(len(r.Regex), "regex", "regexes")
	}
	return s
}

func exclusionSummary(x Exclusion) string {
	s := plural(len(x.Terms.all()), "term", "terms")
	if len(x.Regex) > 0 {
		s += ", " + plural(len(x.Regex), "regex", "regexes")
	}
	if x.Listing {
		return s + ", listing scope"
	}
	return s + ", window " + strconv.Itoa(x.Window)
}

// FormatDiff writes changes one a line, "+" for added, "-" for removed and
// "~" for changed; "no changes" when there are none:
//
//	~ thresholds.flag: 1 → 0.9
//	- categories.ivory.exclusions.ivory.colour: 4 terms, window 0
//	+ categories.ivory.rules.ivory.product.terms.en: tusk
//
// Write errors are left to w (a bufio.Writer keeps them for its Flush).
func FormatDiff(w io.Writer, changes []Change) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "no changes")
		return
	}
	for _, c := range changes {
		switch c.Kind {
		case ChangeAdded:
			fmt.Fprintf(w, "+ %s: %s\n", c.Path, c.New)
		case ChangeRemoved:
			fmt.Fprintf(w, "- %s: %s\n", c.Path, c.Old)
		default:
			fmt.Fprintf(w, "~ %s: %s → %s\n", c.Path, c.Old, c.New)
		}
	}
}

// withinText is Rule.Within as written in YAML; "" when it is the default.
func withinText(w int) string {
	switch {
	case w == WithinField:
		return "field"
	case w > 0:
		return strconv.Itoa(w)
	}
	return ""
}
