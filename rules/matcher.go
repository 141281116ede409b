package rules

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	groups    int        // context groups: rule requirements and exclusion "unless" lists
	ac        *automaton // patterns that may match anywhere
	words     *automaton // patterns that match only at word starts (anchored)
	pats      []string   // automaton patterns
	owners    [][]owner  // per pattern, who asked for it
	regexes   []regexOwner
	scratch   sync.Pool // of *scratch
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
	need []byte // a literal every match contains; the regexp runs only where it occurs
	kind ownerKind
	idx  int
}

type compiledRule struct {
	id     string
	cat    int
	weight float64
	max    float64
	group  int   // context group of Requires, -1 when none
	within int   // Rule.Within
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
			m.regexes = append(m.regexes, regexOwner{re: regexp.MustCompile(s), need: []byte(requiredLiteral(s)), kind: kind, idx: idx})
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
			m.rules = append(m.rules, compiledRule{id: r.ID, cat: ci, weight: r.Weight, max: r.Max, group: group(r.Requires), within: r.Within})
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
	// A pattern all of whose owners match whole words from their start is
	// looked for at word starts only. A pattern is free when one of its
	// owners may end inside a word.
	anywhere, atWord := make([]string, len(m.pats)), make([]string, len(m.pats))
	free := make([]bool, len(m.pats))
	for p, os := range m.owners {
		anchored := true
		for _, o := range os {
			anchored = anchored && o.word && !o.prefix
			free[p] = free[p] || !o.word || o.suffix
		}
		if anchored {
			atWord[p] = m.pats[p]
		} else {
			anywhere[p] = m.pats[p]
		}
	}
	m.ac, m.words = newAutomaton(anywhere, free, false), newAutomaton(atWord, free, true)
	m.scratch.New = func() any { return newScratch(m) }
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
	sc := m.scratch.Get().(*scratch)
	defer m.scratch.Put(sc)
	fields := l.TextFields()
	norms := sc.fields(len(fields))
	hits := sc.hits[:0]
	for fi, f := range fields {
		if f.Value == "" {
			continue
		}
		n := &sc.norms[fi]
		sc.nz.normalize(f.Value, n)
		norms[fi] = n
		hits = m.find(sc, n, fi, hits)
	}
	sc.hits = hits
	v := m.decide(sc, hits, norms, fields)
	sc.release()
	return v
}

// find appends the hits of the automaton patterns and regular expressions
// in field fi, normalised as n.
func (m *Matcher) find(sc *scratch, n *Normalized, fi int, hits []hit) []hit {
	found := m.ac.scan(n, sc.found[:0])
	root := m.words.dense[:256]
	for _, st := range n.starts {
		if root[n.text[st]] != 0 {
			found = m.words.walk(n, int(st), found)
		}
	}
	if len(found) > 1 {
		slices.SortFunc(found, compareMatches)
	}
	sc.found = found
	for _, fd := range found {
		for _, o := range m.owners[fd.pat] {
			if s, e, ok := bounds(n, int(fd.start), int(fd.end), o); ok {
				hits = append(hits, hit{kind: o.kind, idx: o.idx, field: fi, start: s, end: e, key: m.pats[fd.pat]})
			}
		}
	}
	for _, ro := range m.regexes {
		if len(ro.need) > 0 && !bytes.Contains(n.text, ro.need) {
			continue
		}
		for _, loc := range ro.re.FindAllIndex(n.text, -1) {
			if loc[0] < loc[1] {
				hits = append(hits, hit{kind: ro.kind, idx: ro.idx, field: fi, start: loc[0], end: loc[1], key: string(n.text[loc[0]:loc[1]])})
			}
		}
	}
	return hits
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
	if last, _ := utf8.DecodeLastRune(n.text[s:e]); !isLetter(last) {
		return 0, 0, false
	}
	for _, plural := range []string{"s", "es"} {
		if bytes.HasPrefix(n.text[e:], []byte(plural)) && boundaryAfter(n, e+len(plural)) {
			return s, e + len(plural), true
		}
	}
	return 0, 0, false
}

func boundaryBefore(n *Normalized, i int) bool {
	if i == 0 || n.soft(i) {
		return true
	}
	r, _ := utf8.DecodeLastRune(n.text[:i])
	return !isWord(r)
}

func boundaryAfter(n *Normalized, i int) bool {
	if i >= len(n.text) || n.soft(i) {
		return true
	}
	r, _ := utf8.DecodeRune(n.text[i:])
	return !isWord(r)
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
