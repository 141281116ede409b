package rules

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wildwatch/wildwatch"
)

// scratch is the state of one Match call, reused through the matcher's
// pool so that matching a listing allocates little beyond its verdict.
type scratch struct {
	nz    normalizer
	norms []Normalized
	np    []*Normalized
	found []acMatch
	hits  []hit
	// decide's working sets
	present                     []bool // per context group
	rules, excls, negs, excepts []hit
	context                     []hit
	survivors                   []hit
	cancelled                   []bool // per rule hit
	touched                     []int  // rules with a surviving hit
	matched, counted            []bool
	ruleScore, scores           []float64
	obfuscated                  []int // per category: index in survivors, -1 when none
}

func newScratch(m *Matcher) *scratch {
	return &scratch{
		present:    make([]bool, m.groups),
		matched:    make([]bool, len(m.rules)),
		counted:    make([]bool, len(m.rules)),
		ruleScore:  make([]float64, len(m.rules)),
		scores:     make([]float64, len(m.cats)),
		obfuscated: make([]int, len(m.cats)),
	}
}

// maxKept bounds, in bytes of text, the buffers a scratch keeps between
// listings: one huge listing should not pin its buffers in the pool.
const maxKept = 1 << 20

// release drops what the scratch should not keep: references to the
// listing's text and buffers grown past maxKept.
func (sc *scratch) release() {
	clear(sc.hits)
	if cap(sc.nz.us) > maxKept || cap(sc.hits) > maxKept/16 {
		sc.nz, sc.hits, sc.found = normalizer{}, nil, nil
	}
	for i := range sc.norms {
		if cap(sc.norms[i].text) > maxKept {
			sc.norms[i] = Normalized{}
		}
	}
}

// fields returns n empty field slots.
func (sc *scratch) fields(n int) []*Normalized {
	if len(sc.norms) < n {
		sc.norms = make([]Normalized, n)
	}
	sc.np = append(sc.np[:0], make([]*Normalized, n)...)
	return sc.np
}

// decide applies exclusions, requirements and weights to the hits.
func (m *Matcher) decide(sc *scratch, hits []hit, norms []*Normalized, fields []wildwatch.TextField) wildwatch.Verdict {
	v := wildwatch.Verdict{RuleSet: m.version, Matches: []wildwatch.Match{}}
	present := sc.present
	clear(present)
	rules := keepLongest(sc.rules[:0], hits)
	excls, negs, excepts, context := sc.excls[:0], sc.negs[:0], sc.excepts[:0], sc.context[:0]
	for _, h := range hits {
		switch h.kind {
		case kindRule: // in rules already
		case kindExclusion:
			excls = append(excls, h)
		case kindContext:
			present[h.idx] = true
			context = append(context, h)
		case kindExcept:
			excepts = append(excepts, h)
		default:
			negs = append(negs, h)
		}
	}
	sc.rules, sc.excls, sc.negs, sc.excepts, sc.context = rules, excls, negs, excepts, context
	if len(rules) == 0 {
		return v // nothing to score and no exclusion to explain
	}
	// Exclusions that stand: not negated, not voided by "unless".
	slices.SortFunc(negs, byFieldEnd)
	slices.SortFunc(excepts, byFieldEnd)
	negLen, exceptLen := longestHit(negs), longestHit(excepts)
	live := excls[:0]
	for _, x := range excls {
		if u := m.excls[x.idx].unless; u >= 0 && present[u] {
			continue
		}
		if m.negated(x, negs, negLen, norms) || excepted(x, excepts, exceptLen) {
			continue
		}
		live = append(live, x)
	}
	// Rule hits that survive the exclusions.
	cancelled := append(sc.cancelled[:0], make([]bool, len(rules))...)
	sc.cancelled = cancelled
	used := m.cancel(rules, live, norms, cancelled)
	survivors := sc.survivors[:0]
	for i, h := range rules {
		if !cancelled[i] && m.hasContext(h, context, norms) {
			survivors = append(survivors, h)
		}
	}
	sc.survivors = survivors
	// Only the rules with a surviving hit are looked at, in rule order.
	matched, counted, ruleScore := sc.matched, sc.counted, sc.ruleScore
	touched := sc.touched[:0]
	for _, h := range survivors {
		if !matched[h.idx] {
			matched[h.idx] = true
			touched = append(touched, h.idx)
		}
	}
	slices.Sort(touched)
	sc.touched = touched
	defer func() {
		for _, ri := range touched {
			matched[ri], counted[ri], ruleScore[ri] = false, false, 0
		}
	}()
	for pass := 0; pass < 2; pass++ { // rules without, then with requires_rules
		for _, ri := range touched {
			r := &m.rules[ri]
			if (len(r.deps) > 0) != (pass == 1) || (r.group >= 0 && !present[r.group]) {
				continue
			}
			ok := len(r.deps) == 0
			for _, d := range r.deps {
				ok = ok || counted[d]
			}
			counted[ri] = ok
		}
	}
	scores, obfuscated := sc.scores, sc.obfuscated
	clear(scores)
	for ci := range obfuscated {
		obfuscated[ci] = -1
	}
	counts := 0
	for _, h := range survivors {
		if counted[h.idx] {
			counts++
		}
	}
	v.Matches = make([]wildwatch.Match, 0, counts+1)
	type seenKey struct {
		rule int
		key  string
	}
	var seen map[seenKey]bool // for listings with many hits
	if counts > 32 {
		seen = make(map[seenKey]bool, counts)
	}
	for i, h := range survivors {
		if !counted[h.idx] {
			continue
		}
		r := &m.rules[h.idx]
		if seen != nil {
			if k := (seenKey{h.idx, h.key}); !seen[k] {
				seen[k] = true
				ruleScore[h.idx] += r.weight
			}
		} else if !seenBefore(survivors[:i], counted, h) {
			ruleScore[h.idx] += r.weight
		}
		if obfuscated[r.cat] < 0 && len(r.deps) == 0 && norms[h.field].obfuscated(h.start, h.end) {
			obfuscated[r.cat] = i
		}
		v.Matches = append(v.Matches, m.match(h, r.id, m.cats[r.cat], r.weight, norms, fields))
	}
	for _, ri := range touched {
		r := &m.rules[ri]
		s := ruleScore[ri]
		if r.max > 0 && s > r.max {
			s = r.max
		}
		scores[r.cat] += s
	}
	for ci, i := range obfuscated {
		if i >= 0 && m.obfWeight > 0 {
			scores[ci] += m.obfWeight
			v.Matches = append(v.Matches, m.match(survivors[i], ObfuscationRule, m.cats[ci], m.obfWeight, norms, fields))
		}
	}
	best := -1
	for ci, s := range scores {
		if s > 0 && (best < 0 || s > scores[best]) {
			best = ci
		}
	}
	if best >= 0 {
		v.Category = m.cats[best]
		v.Score = math.Round(scores[best]*1e6) / 1e6
		v.Flagged = v.Score >= m.flag
		v.Review = !v.Flagged && m.review > 0 && v.Score >= m.review
	}
	for x := range used {
		v.Exclusions = append(v.Exclusions, m.match(x, m.excls[x.idx].id, categoryOf(m.cats, m.excls[x.idx].cat), 0, norms, fields))
	}
	sortMatches(v.Matches)
	sortMatches(v.Exclusions)
	return v
}

// hasContext reports whether a rule hit has the context its rule's
// Within asks for: a hit of the rule's context group in the same field,
// within the given number of characters when it is positive. Rules whose
// context may be anywhere in the listing are checked later, by group.
func (m *Matcher) hasContext(h hit, context []hit, norms []*Normalized) bool {
	r := &m.rules[h.idx]
	if r.within == 0 || r.group < 0 {
		return true
	}
	for _, c := range context {
		if c.idx != r.group || c.field != h.field {
			continue
		}
		if r.within == WithinField || c.start < h.end && h.start < c.end {
			return true
		}
		text := norms[h.field].text
		if c.end <= h.start && utf8.RuneCount(text[c.end:h.start]) <= r.within ||
			h.end <= c.start && utf8.RuneCount(text[h.end:c.start]) <= r.within {
			return true
		}
	}
	return false
}

// seenBefore reports whether an earlier counted hit of h's rule found the
// same term: each distinct term of a rule counts once.
func seenBefore(earlier []hit, counted []bool, h hit) bool {
	for _, e := range earlier {
		if e.idx == h.idx && e.key == h.key && counted[e.idx] {
			return true
		}
	}
	return false
}

func categoryOf(cats []string, i int) string {
	if i < 0 {
		return ""
	}
	return cats[i]
}

func (m *Matcher) match(h hit, rule, cat string, weight float64, norms []*Normalized, fields []wildwatch.TextField) wildwatch.Match {
	s, e := norms[h.field].Source(h.start, h.end)
	return wildwatch.Match{
		Rule: rule, Category: cat, Field: fields[h.field].Name,
		Start: s, End: e, Text: fields[h.field].Value[s:e], Weight: weight,
	}
}

var fieldOrder = map[string]int{
	wildwatch.FieldTitle: 0, wildwatch.FieldDescription: 1,
	wildwatch.FieldSeller: 2, wildwatch.FieldLocation: 3,
}

func sortMatches(ms []wildwatch.Match) {
	slices.SortStableFunc(ms, func(a, b wildwatch.Match) int {
		if a.Field != b.Field {
			return cmp.Compare(fieldOrder[a.Field], fieldOrder[b.Field])
		}
		if a.Start != b.Start {
			return cmp.Compare(a.Start, b.Start)
		}
		if a.End != b.End {
			return cmp.Compare(a.End, b.End)
		}
		return strings.Compare(a.Rule, b.Rule)
	})
}
