package rules

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
)

// Change is one difference between two rule sets.
type Change struct {
	// Kind is "added", "removed" or "changed".
	Kind string `json:"kind"`
	// Path names what changed, such as
	// "categories.ivory.rules.ivory.product.terms.en".
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Diff lists what changed from old to new: thresholds, categories, rules
// and exclusions added or removed, and within each the weights, terms (per
// language), regular expressions and requirements, in a stable order.
func Diff(old, new *RuleSet) []Change {
	d := &differ{}
	d.value("thresholds.flag", num(old.Threshold), num(new.Threshold))
	d.value("thresholds.review", num(old.ReviewThreshold), num(new.ReviewThreshold))
	d.value("obfuscation_weight", num(old.ObfuscationWeight), num(new.ObfuscationWeight))
	d.value("negation.window", strconv.Itoa(old.Negation.Window), strconv.Itoa(new.Negation.Window))
	d.terms("negation.before", old.Negation.Before, new.Negation.Before)
	d.terms("negation.after", old.Negation.After, new.Negation.After)
	d.exclusions("exclusions", old.Exclusions, new.Exclusions)

	oc, nc := byName(old.Categories, func(c Category) string { return c.Name }), byName(new.Categories, func(c Category) string { return c.Name })
	for _, name := range unionKeys(oc, nc) {
		path := "categories." + name
		o, inOld := oc[name]
		n, inNew := nc[name]
		switch {
		case !inOld:
			d.add("added", path, "", fmt.Sprintf("%d rules", len(n.Rules)))
			continue
		case !inNew:
			d.add("removed", path, fmt.Sprintf("%d rules", len(o.Rules)), "")
			continue
		}
		or, nr := byName(o.Rules, func(r Rule) string { return r.ID }), byName(n.Rules, func(r Rule) string { return r.ID })
		for _, id := range unionKeys(or, nr) {
			rp := path + ".rules." + id
			o, inOld := or[id]
			n, inNew := nr[id]
			switch {
			case !inOld:
				d.add("added", rp, "", fmt.Sprintf("weight %s, %d terms", num(n.Weight), len(n.Terms.all())))
			case !inNew:
				d.add("removed", rp, fmt.Sprintf("weight %s, %d terms", num(o.Weight), len(o.Terms.all())), "")
			default:
				d.value(rp+".weight", num(o.Weight), num(n.Weight))
				d.value(rp+".max", num(o.Max), num(n.Max))
				d.terms(rp+".terms", o.Terms, n.Terms)
				d.list(rp+".regex", o.Regex, n.Regex)
				d.terms(rp+".requires", o.Requires, n.Requires)
				d.list(rp+".requires_rules", o.RequiresRules, n.RequiresRules)
			}
		}
		d.exclusions(path+".exclusions", o.Exclusions, n.Exclusions)
	}
	return d.changes
}

type differ struct{ changes []Change }

func (d *differ) add(kind, path, old, new string) {
	d.changes = append(d.changes, Change{Kind: kind, Path: path, Old: old, New: new})
}

func (d *differ) value(path, old, new string) {
	if old != new {
		d.add("changed", path, old, new)
	}
}

// list reports items added to and removed from a list.
func (d *differ) list(path string, old, new []string) {
	for _, s := range new {
		if !slices.Contains(old, s) {
			d.add("added", path, "", s)
		}
	}
	for _, s := range old {
		if !slices.Contains(new, s) {
			d.add("removed", path, s, "")
		}
	}
}

func (d *differ) terms(path string, old, new Terms) {
	for _, lang := range unionKeys(old, new) {
		d.list(path+"."+lang, old[lang], new[lang])
	}
}

func (d *differ) exclusions(path string, old, new []Exclusion) {
	oe, ne := byName(old, func(x Exclusion) string { return x.ID }), byName(new, func(x Exclusion) string { return x.ID })
	for _, id := range unionKeys(oe, ne) {
		xp := path + "." + id
		o, inOld := oe[id]
		n, inNew := ne[id]
		switch {
		case !inOld:
			d.add("added", xp, "", fmt.Sprintf("%d terms", len(n.Terms.all())))
		case !inNew:
			d.add("removed", xp, fmt.Sprintf("%d terms", len(o.Terms.all())), "")
		default:
			d.value(xp+".window", strconv.Itoa(o.Window), strconv.Itoa(n.Window))
			d.terms(xp+".terms", o.Terms, n.Terms)
			d.list(xp+".regex", o.Regex, n.Regex)
			d.terms(xp+".unless", o.Unless, n.Unless)
			d.terms(xp+".except", o.Except, n.Except)
			d.list(xp+".rules", o.Rules, n.Rules)
		}
	}
}

func byName[T any](items []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[key(it)] = it
	}
	return m
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// FormatDiff writes changes one per line: "+ path: new", "- path: old" or
// "~ path: old → new".
func FormatDiff(w io.Writer, changes []Change) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "no changes")
		return
	}
	for _, c := range changes {
		switch c.Kind {
		case "added":
			fmt.Fprintf(w, "+ %s: %s\n", c.Path, c.New)
		case "removed":
			fmt.Fprintf(w, "- %s: %s\n", c.Path, c.Old)
		default:
			fmt.Fprintf(w, "~ %s: %s → %s\n", c.Path, c.Old, c.New)
		}
	}
}
