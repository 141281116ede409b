package rules

import (
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wildwatch/wildwatch"
)

// ObfuscationRule is the rule name of the match that explains an
// obfuscation bonus in a verdict.
const ObfuscationRule = "obfuscation"

// Matcher is a compiled rule set. It is safe for concurrent use.
type Matcher struct {
	version   string
	flag      float64
	review    float64
	obfWeight float64
	negWindow int
	cats      []string
	rules     []compiledRule
	excls     []compiledExclusion
	groups    int // context groups: rule requirements and exclusion "unless" lists
	ac        *automaton
	pats      []string  // automaton patterns
	owners    [][]owner // per pattern, who asked for it
	regexes   []regexOwner
}

var _ wildwatch.Matcher = (*Matcher)(nil)

type ownerKind uint8

const (
	kindRule ownerKind = iota
	kindExclusion
	kindContext
	kindNegBefore
	kindNegAfter
	kindExcept // idx is the exclusion whose occurrences inside it do not count
)

// owner is one use of an automaton pattern.
type owner struct {
	kind   ownerKind
	idx    int // rule, exclusion or context group
	prefix bool
	suffix bool
	word   bool
}

type regexOwner struct {
	re   *regexp.Regexp
	need string // a literal every match contains; the regexp runs only where it occurs
	kind ownerKind
	idx  int
}

type compiledRule struct {
	id     string
	cat    int
	weight float64
	max    float64
	group  int   // context group of Requires, -1 when none
	deps   []int // RequiresRules
}

type compiledExclusion struct {
	id      string
	cat     int // -1: every category
	window  int
	listing bool
	rules   map[int]bool // nil: every rule in scope
	unless  int          // context group, -1 when none
}

// Compile checks rs and builds its matcher. Errors name the rule or
// exclusion at fault.
func Compile(rs *RuleSet) (*Matcher, error) {
	if err := rs.check(); err != nil {
		return nil, err
	}
	m := &Matcher{
		version:   rs.Name + "@" + strconv.Itoa(rs.Version),
		flag:      rs.Threshold,
		review:    rs.ReviewThreshold,
		obfWeight: rs.ObfuscationWeight,
		negWindow: rs.Negation.Window,
	}
	patIndex := map[string]int{}
	addPattern := func(text string, t term, kind ownerKind, idx int) {
		p, ok := patIndex[text]
		if !ok {
			p = len(m.pats)
			patIndex[text] = p
			m.pats = append(m.pats, text)
			m.owners = append(m.owners, nil)
		}
		o := owner{kind: kind, idx: idx, prefix: t.prefix, suffix: t.suffix, word: t.word}
		if !slices.Contains(m.owners[p], o) {
			m.owners[p] = append(m.owners[p], o)
		}
	}
	add := func(terms Terms, kind ownerKind, idx int) {
		for _, s := range terms.all() {
			t, _ := parseTerm(s) // checked above
			for _, text := range pluralForms(t) {
				addPattern(text, t, kind, idx)
			}
		}
	}
	addRegex := func(res []string, kind ownerKind, idx int) {
		for _, s := range res {
			m.regexes = append(m.regexes, regexOwner{re: regexp.MustCompile(s), need: requiredLiteral(s), kind: kind, idx: idx})
		}
	}
	group := func(t Terms) int {
		if len(t.all()) == 0 {
			return -1
		}
		g := m.groups
		m.groups++
		add(t, kindContext, g)
		return g
	}
	ruleIdx := map[string]int{}
	for ci, c := range rs.Categories {
		m.cats = append(m.cats, c.Name)
		for _, r := range c.Rules {
			ri := len(m.rules)
			ruleIdx[r.ID] = ri
			m.rules = append(m.rules, compiledRule{id: r.ID, cat: ci, weight: r.Weight, max: r.Max, group: group(r.Requires)})
			add(r.Terms, kindRule, ri)
			addRegex(r.Regex, kindRule, ri)
		}
	}
	for ci, c := range rs.Categories {
		for _, r := range c.Rules {
			for _, d := range r.RequiresRules {
				m.rules[ruleIdx[r.ID]].deps = append(m.rules[ruleIdx[r.ID]].deps, ruleIdx[d])
			}
		}
		for _, x := range c.Exclusions {
			m.addExclusion(x, ci, ruleIdx, add, addRegex, group)
		}
	}
	for _, x := range rs.Exclusions {
		m.addExclusion(x, -1, ruleIdx, add, addRegex, group)
	}
	add(rs.Negation.Before, kindNegBefore, 0)
	add(rs.Negation.After, kindNegAfter, 0)
	m.ac = newAutomaton(m.pats)
	return m, nil
}

func (m *Matcher) addExclusion(x Exclusion, cat int, ruleIdx map[string]int,
	add func(Terms, ownerKind, int), addRegex func([]string, ownerKind, int), group func(Terms) int) {
	xi := len(m.excls)
	cx := compiledExclusion{id: x.ID, cat: cat, window: x.Window, listing: x.Listing, unless: group(x.Unless)}
	if len(x.Rules) > 0 {
		cx.rules = map[int]bool{}
		for _, id := range x.Rules {
			cx.rules[ruleIdx[id]] = true
		}
	}
	m.excls = append(m.excls, cx)
	add(x.Terms, kindExclusion, xi)
	addRegex(x.Regex, kindExclusion, xi)
	add(x.Except, kindExcept, xi)
}

// Version returns the rule set's "name@version".
func (m *Matcher) Version() string { return m.version }

// hit is one occurrence of a pattern in a normalised field.
type hit struct {
	kind  ownerKind
	idx   int
	field int
	start int // in the normalised text
	end   int
	key   string // what counts as "the same term" for scoring
}

// Match runs the rule set over a listing's text fields.
func (m *Matcher) Match(l wildwatch.Listing) wildwatch.Verdict {
	fields := l.TextFields()
	norms := make([]*Normalized, len(fields))
	var hits []hit
	for fi, f := range fields {
		if f.Value == "" {
			continue
		}
		n := Normalize(f.Value)
		norms[fi] = n
		m.ac.scan(n.Text, func(p, end int) {
			start := end - len(m.pats[p])
			for _, o := range m.owners[p] {
				if s, e, ok := bounds(n, start, end, o); ok {
					hits = append(hits, hit{kind: o.kind, idx: o.idx, field: fi, start: s, end: e, key: m.pats[p]})
				}
			}
		})
		for _, ro := range m.regexes {
			if ro.need != "" && !strings.Contains(n.Text, ro.need) {
				continue
			}
			for _, loc := range ro.re.FindAllStringIndex(n.Text, -1) {
				if loc[0] < loc[1] {
					hits = append(hits, hit{kind: ro.kind, idx: ro.idx, field: fi, start: loc[0], end: loc[1], key: n.Text[loc[0]:loc[1]]})
				}
			}
		}
	}
	return m.decide(hits, norms, fields)
}

// requiredLiteral returns the longest literal that every match of the
// regular expression contains (a literal directly in its top-level
// concatenation), or "" when there is none.
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	best := ""
	for _, p := range parts {
		if p.Op != syntax.OpLiteral {
			continue
		}
		lit := string(p.Rune)
		if p.Flags&syntax.FoldCase != 0 {
			lit = strings.ToLower(lit)
		}
		if len(lit) > len(best) {
			best = lit
		}
	}
	return best
}

// bounds checks a pattern occurrence against its word boundaries and
// widens it over a plural ending.
func bounds(n *Normalized, s, e int, o owner) (int, int, bool) {
	if !o.word {
		return s, e, true
	}
	if !o.prefix && !boundaryBefore(n, s) {
		return 0, 0, false
	}
	if o.suffix || boundaryAfter(n, e) {
		return s, e, true
	}
	if last, _ := utf8.DecodeLastRuneInString(n.Text[s:e]); !isLetter(last) {
		return 0, 0, false
	}
	for _, plural := range []string{"s", "es"} {
		if strings.HasPrefix(n.Text[e:], plural) && boundaryAfter(n, e+len(plural)) {
			return s, e + len(plural), true
		}
	}
	return 0, 0, false
}

func boundaryBefore(n *Normalized, i int) bool {
	if i == 0 || n.soft(i) {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(n.Text[:i])
	return !isWord(r)
}

func boundaryAfter(n *Normalized, i int) bool {
	if i >= len(n.Text) || n.soft(i) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(n.Text[i:])
	return !isWord(r)
}

// decide applies exclusions, requirements and weights to the hits.
func (m *Matcher) decide(hits []hit, norms []*Normalized, fields []wildwatch.TextField) wildwatch.Verdict {
	present := make([]bool, m.groups)
	var rules, excls, negs, excepts []hit
	for _, h := range hits {
		switch h.kind {
		case kindRule:
			rules = appendLongest(rules, h)
		case kindExclusion:
			excls = append(excls, h)
		case kindContext:
			present[h.idx] = true
		case kindExcept:
			excepts = append(excepts, h)
		default:
			negs = append(negs, h)
		}
	}
	// Exclusions that stand: not negated, not voided by "unless".
	live := excls[:0]
	for _, x := range excls {
		if u := m.excls[x.idx].unless; u >= 0 && present[u] {
			continue
		}
		if m.negated(x, negs, norms) || excepted(x, excepts) {
			continue
		}
		live = append(live, x)
	}
	// Rule hits that survive the exclusions.
	var survivors []hit
	used := map[hit]bool{}
	for _, h := range rules {
		cancelled := false
		for _, x := range live {
			if m.cancels(x, h, norms) {
				cancelled = true
				if len(m.rules[h.idx].deps) == 0 {
					used[x] = true // worth explaining: it cancelled a product term
				}
			}
		}
		if !cancelled {
			survivors = append(survivors, h)
		}
	}
	matched := make([]bool, len(m.rules))
	for _, h := range survivors {
		matched[h.idx] = true
	}
	counted := make([]bool, len(m.rules))
	for pass := 0; pass < 2; pass++ { // rules without, then with requires_rules
		for ri, r := range m.rules {
			if (len(r.deps) > 0) != (pass == 1) || !matched[ri] || (r.group >= 0 && !present[r.group]) {
				continue
			}
			ok := len(r.deps) == 0
			for _, d := range r.deps {
				ok = ok || counted[d]
			}
			counted[ri] = ok
		}
	}
	v := wildwatch.Verdict{RuleSet: m.version, Matches: []wildwatch.Match{}}
	scores := make([]float64, len(m.cats))
	ruleScore := make([]float64, len(m.rules))
	seen := map[string]bool{}
	obfuscated := make([]*hit, len(m.cats))
	for i, h := range survivors {
		if !counted[h.idx] {
			continue
		}
		r := m.rules[h.idx]
		if k := r.id + "\x00" + h.key; !seen[k] {
			seen[k] = true
			ruleScore[h.idx] += r.weight
		}
		if obfuscated[r.cat] == nil && len(r.deps) == 0 && norms[h.field].obfuscated(h.start, h.end) {
			obfuscated[r.cat] = &survivors[i]
		}
		v.Matches = append(v.Matches, m.match(h, r.id, m.cats[r.cat], r.weight, norms, fields))
	}
	for ri, r := range m.rules {
		s := ruleScore[ri]
		if r.max > 0 && s > r.max {
			s = r.max
		}
		scores[r.cat] += s
	}
	for ci, h := range obfuscated {
		if h != nil && m.obfWeight > 0 {
			scores[ci] += m.obfWeight
			v.Matches = append(v.Matches, m.match(*h, ObfuscationRule, m.cats[ci], m.obfWeight, norms, fields))
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
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.Field != b.Field {
			return fieldOrder[a.Field] < fieldOrder[b.Field]
		}
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Rule < b.Rule
	})
}

// negated reports a negation word next to exclusion hit x.
func (m *Matcher) negated(x hit, negs []hit, norms []*Normalized) bool {
	text := norms[x.field].Text
	for _, n := range negs {
		if n.field != x.field {
			continue
		}
		if n.kind == kindNegBefore && n.end <= x.start && utf8.RuneCountInString(text[n.end:x.start]) <= m.negWindow {
			return true
		}
		if n.kind == kindNegAfter && n.start >= x.end && utf8.RuneCountInString(text[x.end:n.start]) <= m.negWindow {
			return true
		}
	}
	return false
}

// excepted reports an exclusion hit lying inside one of its Except phrases.
func excepted(x hit, excepts []hit) bool {
	for _, e := range excepts {
		if e.idx == x.idx && e.field == x.field && e.start <= x.start && x.end <= e.end {
			return true
		}
	}
	return false
}

// cancels reports whether exclusion hit x cancels rule hit h. An exclusion
// lying strictly inside a longer match does not cancel it: the rule named
// the longer phrase on purpose ("白塑料" holds "塑料").
func (m *Matcher) cancels(x, h hit, norms []*Normalized) bool {
	ex := m.excls[x.idx]
	r := m.rules[h.idx]
	if ex.cat >= 0 && ex.cat != r.cat {
		return false
	}
	if ex.rules != nil && !ex.rules[h.idx] {
		return false
	}
	if x.field == h.field && x.start >= h.start && x.end <= h.end && x.end-x.start < h.end-h.start {
		return false
	}
	if ex.listing {
		return true
	}
	if x.field != h.field {
		return false
	}
	text := norms[h.field].Text
	switch {
	case x.start < h.end && h.start < x.end:
		return true
	case x.end <= h.start:
		return utf8.RuneCountInString(text[x.end:h.start]) <= ex.window
	default:
		return utf8.RuneCountInString(text[h.end:x.start]) <= ex.window
	}
}

// String describes the matcher for logs.
func (m *Matcher) String() string {
	return fmt.Sprintf("rules %s: %d categories, %d rules, %d exclusions, %d terms, %d regexps",
		m.version, len(m.cats), len(m.rules), len(m.excls), len(m.pats), len(m.regexes))
}

// pluralForms returns a term's text and, for a Latin phrase, the phrase
// with its first word in the plural: French, Spanish and Portuguese put the
// plural on the head noun ("griffes de tigre", "escamas de pangolín"), and
// the matcher's own plural ending covers only the last word.
func pluralForms(t term) []string {
	forms := []string{t.text}
	if !t.word {
		return forms
	}
	first, rest, ok := strings.Cut(t.text, " ")
	if !ok || first == "" || strings.HasSuffix(first, "s") || strings.HasSuffix(first, "x") {
		return forms
	}
	if last, _ := utf8.DecodeLastRuneInString(first); !isLetter(last) {
		return forms
	}
	return append(forms, first+"s "+rest)
}
