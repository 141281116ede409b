package rules

import (
	"cmp"
	"slices"
	"sort"
	"unicode/utf8"
)

// The steps of decide that compare hits with hits. Each has a plain form,
// which compares every pair, and for listings with many hits (a long text
// repeating a term) an indexed form that gives the same answer while
// looking only at hits near each other, so that cost stays close to linear
// in the text.

// manyHits is the number of hits from which the indexed forms are used.
const manyHits = 32

// keepLongest returns the rule hits of hits, each added in turn with
// appendLongest.
func keepLongest(dst, hits []hit) []hit {
	n := 0
	for _, h := range hits {
		if h.kind == kindRule {
			n++
		}
	}
	if n <= manyHits {
		for _, h := range hits {
			if h.kind == kindRule {
				dst = appendLongest(dst, h)
			}
		}
		return dst
	}
	// The hits kept for one rule in one field never overlap, so sorted by
	// start they are sorted by end too, and those a new hit overlaps are
	// one run of them.
	type key struct{ rule, field int }
	kept := map[key][]int{} // indices in all, by start
	var all []hit
	var alive []bool
	for _, h := range hits {
		if h.kind != kindRule {
			continue
		}
		k := key{h.idx, h.field}
		s := kept[k]
		p := sort.Search(len(s), func(i int) bool { return all[s[i]].end > h.start })
		q, longer := p, false
		for ; q < len(s) && all[s[q]].start < h.end; q++ {
			if o := all[s[q]]; o.end-o.start >= h.end-h.start {
				longer = true
				break
			}
		}
		if longer {
			continue
		}
		for _, i := range s[p:q] {
			alive[i] = false
		}
		kept[k] = slices.Replace(s, p, q, len(all))
		all = append(all, h)
		alive = append(alive, true)
	}
	for i, h := range all {
		if alive[i] {
			dst = append(dst, h)
		}
	}
	return dst
}

// appendLongest adds rule hit h unless a longer hit of the same rule
// overlaps it, and drops the shorter hits of the same rule it overlaps: a
// term inside a longer term of the same rule ("sừng tê" in "sừng tê
// giác"), or a term and a regex over the same words, count once.
func appendLongest(hs []hit, h hit) []hit {
	overlaps := func(o hit) bool {
		return o.idx == h.idx && o.field == h.field && o.start < h.end && h.start < o.end
	}
	for _, o := range hs {
		if overlaps(o) && o.end-o.start >= h.end-h.start {
			return hs
		}
	}
	out := hs[:0]
	for _, o := range hs {
		if !overlaps(o) {
			out = append(out, o)
		}
	}
	return append(out, h)
}

// byFieldEnd orders hits by field, then end.
func byFieldEnd(a, b hit) int {
	return cmp.Or(cmp.Compare(a.field, b.field), cmp.Compare(a.end, b.end))
}

// longestHit is the length of the longest of hs.
func longestHit(hs []hit) int {
	n := 0
	for _, h := range hs {
		n = max(n, h.end-h.start)
	}
	return n
}

// from returns the index of the first hit of hs, sorted by field and end,
// in field f that ends at or after end.
func from(hs []hit, f, end int) int {
	return sort.Search(len(hs), func(i int) bool {
		return hs[i].field > f || hs[i].field == f && hs[i].end >= end
	})
}

// negated reports a negation word next to exclusion hit x. negs are sorted
// by field and end; longest is the length of the longest. A negation
// within the window is at most 4 bytes a character away.
func (m *Matcher) negated(x hit, negs []hit, longest int, norms []*Normalized) bool {
	text := norms[x.field].text
	w := 4 * m.negWindow
	for i := from(negs, x.field, x.start-w); i < len(negs) && negs[i].field == x.field && negs[i].end <= x.end+w+longest; i++ {
		n := negs[i]
		if n.kind == kindNegBefore && n.end <= x.start && utf8.RuneCount(text[n.end:x.start]) <= m.negWindow {
			return true
		}
		if n.kind == kindNegAfter && n.start >= x.end && utf8.RuneCount(text[x.end:n.start]) <= m.negWindow {
			return true
		}
	}
	return false
}

// excepted reports an exclusion hit lying inside one of its Except
// phrases. excepts are sorted by field and end; longest is the length of
// the longest.
func excepted(x hit, excepts []hit, longest int) bool {
	for i := from(excepts, x.field, x.end); i < len(excepts) && excepts[i].field == x.field && excepts[i].end <= x.start+longest; i++ {
		if e := excepts[i]; e.idx == x.idx && e.start <= x.start && x.end <= e.end {
			return true
		}
	}
	return false
}

// cancel sets cancelled[i] for each rule hit rules[i] that a live
// exclusion hit cancels, and returns the exclusion hits that cancelled a
// hit of a rule without requires_rules: those worth explaining.
func (m *Matcher) cancel(rules, live []hit, norms []*Normalized, cancelled []bool) map[hit]bool {
	var used map[hit]bool
	use := func(x hit, h hit) {
		if len(m.rules[h.idx].deps) == 0 {
			if used == nil {
				used = map[hit]bool{}
			}
			used[x] = true
		}
	}
	if len(rules)*len(live) <= manyHits*manyHits {
		for i, h := range rules {
			for _, x := range live {
				if m.cancels(x, h, norms) {
					cancelled[i] = true
					use(x, h)
				}
			}
		}
		return used
	}
	// Near exclusions: the rule hits of the same field that start within
	// reach, found in the rule hits sorted by field and start.
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(rules[a].field, rules[b].field), cmp.Compare(rules[a].start, rules[b].start))
	})
	longest := longestHit(rules)
	listing := map[int][]hit{} // listing-scope hits by exclusion
	var exclOrder []int
	for _, x := range live {
		ex := &m.excls[x.idx]
		if ex.listing {
			if listing[x.idx] == nil {
				exclOrder = append(exclOrder, x.idx)
			}
			listing[x.idx] = append(listing[x.idx], x)
			continue
		}
		lo, hi := x.start-4*ex.window-longest, x.end+4*ex.window
		k := sort.Search(len(order), func(k int) bool {
			h := rules[order[k]]
			return h.field > x.field || h.field == x.field && h.start >= lo
		})
		for ; k < len(order) && rules[order[k]].field == x.field && rules[order[k]].start <= hi; k++ {
			if h := rules[order[k]]; m.cancels(x, h, norms) {
				cancelled[order[k]] = true
				use(x, h)
			}
		}
	}
	// Listing exclusions cancel every rule hit they apply to but one they
	// lie strictly inside.
	for _, e := range exclOrder {
		xs := listing[e]
		var applies []hit // to rules without requires_rules
		for i, h := range rules {
			if !m.applies(e, h) {
				continue
			}
			if len(m.rules[h.idx].deps) == 0 {
				applies = append(applies, h)
			}
			for _, x := range xs {
				if !strictlyInside(x, h) {
					cancelled[i] = true
					break
				}
			}
		}
		for _, x := range xs {
			for _, h := range applies {
				if !strictlyInside(x, h) {
					use(x, h)
					break
				}
			}
		}
	}
	return used
}

// applies reports whether exclusion e may cancel rule hit h: its category
// and rules cover h's rule.
func (m *Matcher) applies(e int, h hit) bool {
	ex, r := &m.excls[e], &m.rules[h.idx]
	return (ex.cat < 0 || ex.cat == r.cat) && (ex.rules == nil || ex.rules[h.idx])
}

// strictlyInside reports an exclusion hit lying inside a longer rule hit.
func strictlyInside(x, h hit) bool {
	return x.field == h.field && x.start >= h.start && x.end <= h.end && x.end-x.start < h.end-h.start
}

// cancels reports whether exclusion hit x cancels rule hit h. An exclusion
// lying strictly inside a longer match does not cancel it: the rule named
// the longer phrase on purpose ("白塑料" holds "塑料").
func (m *Matcher) cancels(x, h hit, norms []*Normalized) bool {
	if !m.applies(x.idx, h) || strictlyInside(x, h) {
		return false
	}
	ex := &m.excls[x.idx]
	if ex.listing {
		return true
	}
	if x.field != h.field {
		return false
	}
	text := norms[h.field].text
	switch {
	case x.start < h.end && h.start < x.end:
		return true
	case x.end <= h.start:
		return utf8.RuneCount(text[x.end:h.start]) <= ex.window
	default:
		return utf8.RuneCount(text[h.end:x.start]) <= ex.window
	}
}
