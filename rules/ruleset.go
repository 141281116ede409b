package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RuleSet is a parsed rule-set document. See Parse for the YAML format and
// default.yaml for a complete example.
type RuleSet struct {
	// Name and Version identify the rule set; every verdict records them as
	// "name@version".
	Name    string
	Version int
	// Threshold is the score at which a listing is flagged.
	Threshold float64
	// ReviewThreshold is the score from which a listing not flagged is
	// marked for review; 0 turns review off.
	ReviewThreshold float64
	// ObfuscationWeight is added to a category's score, once per listing,
	// when one of its surviving matches was written in disguise: spelled
	// out, with homoglyphs, leetspeak or invisible characters.
	ObfuscationWeight float64
	// Negation names words that void an exclusion they stand next to
	// ("not plastic", "不是塑料").
	Negation Negation
	// Exclusions apply to the rules of every category.
	Exclusions []Exclusion
	// Categories hold the rules, in order; a tie between category scores
	// goes to the earlier category.
	Categories []Category
	// File is the name the rule set was parsed from, for error messages.
	File string
}

// Category is one kind of wildlife product with its rules.
type Category struct {
	Name       string
	Rules      []Rule
	Exclusions []Exclusion
	Line       int
}

// Rule is a set of terms and patterns that count towards a category.
type Rule struct {
	// ID is unique in the rule set, conventionally "category.name".
	ID string
	// Weight is added to the category's score once for every distinct term
	// or pattern text of this rule found in a listing.
	Weight float64
	// Max caps what the rule adds to a listing's score; 0 means no cap.
	Max float64
	// Terms are literal terms by language. A term in a spaced script
	// matches whole words (a plural "s" or "es" may follow); "*" at its end
	// lets it match the start of a longer word ("elfenbein*" matches
	// "Elfenbeinschnitzerei"), "*" at its start the end of one. Terms in
	// unspaced scripts (Chinese, Japanese, Thai) match anywhere.
	Terms Terms
	// Regex are RE2 patterns run on the normalised text (lower case,
	// accents stripped, punctuation collapsed to single spaces).
	Regex []string
	// Requires are context terms: when given, the rule counts only if one
	// of them appears somewhere in the listing.
	Requires Terms
	// Within says where a Requires term must be: 0 (the default) anywhere
	// in the listing, WithinField in the same field as the rule's match, a
	// positive number within that many characters of the match (in
	// normalised text, in the same field).
	Within int
	// RequiresRules are rule IDs: when given, the rule counts only if one
	// of those rules matched (and survived its exclusions) in the listing.
	RequiresRules []string
	Line          int
}

// WithinField is Rule.Within for "in the same field".
const WithinField = -1

// Exclusion cancels matches that sit on or near one of its terms: a colour
// ("ivory white"), a brand ("Tiger Balm"), a material ("resin").
type Exclusion struct {
	ID    string
	Terms Terms
	Regex []string
	// Window is how many characters of normalised text may separate the
	// exclusion from a match it cancels; 0 means they must overlap.
	Window int
	// Listing makes the exclusion cancel matches anywhere in the listing.
	Listing bool
	// Rules limits the exclusion to these rule IDs; empty means all rules
	// of its category (or of every category, for a rule-set exclusion).
	Rules []string
	// Unless are terms that void the exclusion when they appear anywhere in
	// the listing (Schreger lines on an "imitation" carving).
	Unless Terms
	// Except are longer phrases holding one of the exclusion's terms in an
	// innocent sense: an occurrence inside one of them does not count
	// ("plastic" in "plastic bag").
	Except Terms
	Line   int
}

// Negation lists words that void an exclusion when they come within Window
// characters before it (Before: "not", "no es", "不是") or after it (After:
// Japanese "ではない").
type Negation struct {
	Window int
	Before Terms
	After  Terms
}

// Terms are terms keyed by language code ("en", "zh", …; "" for terms
// given as a plain list).
type Terms map[string][]string

// all returns every term, languages in sorted order.
func (t Terms) all() []string {
	langs := make([]string, 0, len(t))
	for l := range t {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	var out []string
	for _, l := range langs {
		out = append(out, t[l]...)
	}
	return out
}

// Known category names. A rule set may use any of them, and no others.
var KnownCategories = []string{
	"ivory", "rhino_horn", "pangolin", "tiger", "hawksbill", "hornbill",
	"live_reptile", "live_primate", "live_bird", "other_wildlife",
}

// term is a term split from its wildcards and normalised.
type term struct {
	text           string // normalised
	prefix, suffix bool   // "*" at the start / the end
	word           bool   // matches whole words
}

// parseTerm normalises a term as written in a rule set.
func parseTerm(s string) (term, error) {
	var t term
	raw := strings.TrimSpace(s)
	if strings.HasPrefix(raw, "*") {
		t.prefix, raw = true, raw[1:]
	}
	if strings.HasSuffix(raw, "*") {
		t.suffix, raw = true, raw[:len(raw)-1]
	}
	t.text = Normalize(raw).Text
	if t.text == "" {
		return t, fmt.Errorf("term %q is empty once normalised", s)
	}
	t.word = true
	for _, r := range t.text {
		if substringScript(r) {
			t.word = false
			break
		}
	}
	if !t.word && (t.prefix || t.suffix) {
		return t, fmt.Errorf("term %q: \"*\" has no use on a term that matches anywhere", s)
	}
	return t, nil
}

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	langPattern = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]+)*$`)
)

// validate checks what the YAML parser cannot see on its own and that Go
// callers building a RuleSet by hand may get wrong. Errors name the rule
// or exclusion; Parse adds the file and line.
func (rs *RuleSet) validate() error {
	if rs.Name == "" {
		return fmt.Errorf("rule set has no name")
	}
	if rs.Version < 1 {
		return fmt.Errorf("version must be a positive integer")
	}
	if rs.Threshold <= 0 {
		return fmt.Errorf("thresholds.flag must be positive")
	}
	if rs.ReviewThreshold < 0 || rs.ReviewThreshold > rs.Threshold {
		return fmt.Errorf("thresholds.review must be between 0 and thresholds.flag")
	}
	if len(rs.Categories) == 0 {
		return fmt.Errorf("rule set has no categories")
	}
	return nil
}
