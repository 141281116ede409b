package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// testPack is a small rule set exercising every feature of the format.
const testPack = `
name: test
version: 7
thresholds: {flag: 1.0, review: 0.5}
obfuscation_weight: 0.5
negation:
  window: 6
  before: {en: [not], zh: [不是]}
  after: {ja: [ではない]}
vocabulary:
  young: &young [baby, tame]
exclusions:
  - id: toy
    window: 10
    terms: [plush, toy]
  - id: campaign
    scope: listing
    terms: [campaign]
categories:
  - name: ivory
    rules:
      - id: ivory.word
        weight: 0.6
        max: 0.6
        terms: {en: [ivory], de: ["elfenbein*"]}
      - id: ivory.cjk
        weight: 1.0
        terms: {zh: [象牙]}
      - id: ivory.object
        weight: 0.5
        terms: {en: [bangle, carving]}
        requires_rules: [ivory.word]
      - id: ivory.code
        weight: 1.0
        terms: {zh: [白塑料]}
      - id: ivory.bone
        weight: 1.0
        terms: {en: [cow bone]}
        requires: [netsuke, okimono]
      - id: ivory.lines
        weight: 1.0
        terms: {en: [grain lines]}
        requires: [netsuke, okimono]
        within: 12
      - id: ivory.plastic
        weight: 1.0
        terms: {en: [white plastic]}
        requires: [hand carved]
        within: field
      - id: ivory.other
        weight: 0.6
        max: 0.6
        terms: {en: [mammoth ivory, mammoth tusk]}
    exclusions:
      - id: ivory.colour
        terms: {en: [ivory white], zh: [象牙白]}
      - id: ivory.goods
        window: 12
        rules: [ivory.word]
        terms: {en: [linen]}
      - id: ivory.faux
        window: 20
        terms: {en: [resin, faux, plastic], zh: [塑料]}
        unless: [schreger]
        except: [plastic bag]
      - id: ivory.mammoth
        scope: listing
        rules: [ivory.word]
        terms: [mammoth]
  - name: rhino_horn
    rules:
      - id: rhino.horn
        weight: 1.0
        terms: {en: [rhino horn]}
        regex: ['\brhino (?:[a-z]+ )?horns?\b']
  - name: live_primate
    rules:
      - id: primate.species
        weight: 0.6
        max: 0.6
        terms: {en: [gibbon]}
      - id: primate.young
        weight: 0.4
        terms: *young
        requires_rules: [primate.species]
`

func compileTest(t testing.TB) *Matcher {
	t.Helper()
	rs, err := Parse("test.yaml", []byte(testPack))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// brief renders matches as "rule field [start:end] text" for comparison.
func brief(ms []wildwatch.Match) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s %s [%d:%d] %s", m.Rule, m.Field, m.Start, m.End, m.Text))
	}
	return out
}

func TestMatch(t *testing.T) {
	t.Parallel()
	m := compileTest(t)
	tests := []struct {
		name     string
		listing  wildwatch.Listing
		flagged  bool
		review   bool
		score    float64
		category string
		matches  []string
	}{
		{
			name:     "word and context in title",
			listing:  wildwatch.Listing{Title: "Old ivory bangle"},
			flagged:  true,
			score:    1.1,
			category: "ivory",
			matches:  []string{"ivory.word title [4:9] ivory", "ivory.object title [10:16] bangle"},
		},
		{
			name:     "word alone goes to review",
			listing:  wildwatch.Listing{Title: "Ivory"},
			review:   true,
			score:    0.6,
			category: "ivory",
			matches:  []string{"ivory.word title [0:5] Ivory"},
		},
		{
			name:     "offsets in the description, original text kept",
			listing:  wildwatch.Listing{Title: "Lot", Description: "Zwei ÉLFENBEIN-Figuren."},
			review:   true,
			score:    0.6,
			category: "ivory",
			matches:  []string{"ivory.word description [5:15] ÉLFENBEIN"},
		},
		{
			name:     "prefix term matches a compound",
			listing:  wildwatch.Listing{Title: "Elfenbeinschnitzerei"},
			review:   true,
			score:    0.6,
			category: "ivory",
			matches:  []string{"ivory.word title [0:9] Elfenbein"},
		},
		{
			name:     "plural",
			listing:  wildwatch.Listing{Title: "two rhino horns"},
			flagged:  true,
			score:    1,
			category: "rhino_horn",
			matches:  []string{"rhino.horn title [4:15] rhino horns"},
		},
		{
			name:    "whole words only",
			listing: wildwatch.Listing{Title: "ivorylike rhinoceros hornet"},
			matches: []string{},
		},
		{
			name:     "regex",
			listing:  wildwatch.Listing{Title: "rhino black horn"},
			flagged:  true,
			score:    1,
			category: "rhino_horn",
			matches:  []string{"rhino.horn title [0:16] rhino black horn"},
		},
		{
			name:     "cjk substring and distinct term counted once",
			listing:  wildwatch.Listing{Title: "老象牙手镯", Description: "象牙，象牙"},
			flagged:  true,
			score:    1,
			category: "ivory",
			matches:  []string{"ivory.cjk title [3:9] 象牙", "ivory.cjk description [0:6] 象牙", "ivory.cjk description [9:15] 象牙"},
		},
		{
			name:     "max caps a rule",
			listing:  wildwatch.Listing{Title: "ivory, Elfenbein"},
			review:   true,
			score:    0.6,
			category: "ivory",
			matches:  []string{"ivory.word title [0:5] ivory", "ivory.word title [7:16] Elfenbein"},
		},
		{
			name:    "requires not met",
			listing: wildwatch.Listing{Title: "cow bone beads"},
			matches: []string{},
		},
		{
			name:     "requires met in another field",
			listing:  wildwatch.Listing{Title: "cow bone figure", Description: "a netsuke"},
			flagged:  true,
			score:    1,
			category: "ivory",
			matches:  []string{"ivory.bone title [0:8] cow bone"},
		},
		{
			name:     "requires within characters met",
			listing:  wildwatch.Listing{Title: "netsuke, clear grain lines"},
			flagged:  true,
			score:    1,
			category: "ivory",
			matches:  []string{"ivory.lines title [15:26] grain lines"},
		},
		{
			name:     "requires within characters met before",
			listing:  wildwatch.Listing{Title: "grain lines: okimono"},
			flagged:  true,
			score:    1,
			category: "ivory",
			matches:  []string{"ivory.lines title [0:11] grain lines"},
		},
		{
			name:    "requires within characters too far",
			listing: wildwatch.Listing{Title: "grain lines visible on this fine old netsuke"},
			matches: []string{},
		},
		{
			name:    "requires within characters in another field",
			listing: wildwatch.Listing{Title: "grain lines", Description: "netsuke"},
			matches: []string{},
		},
		{
			name:     "requires within the field met",
			listing:  wildwatch.Listing{Description: "white plastic, as they say, all of it hand carved by a master"},
			flagged:  true,
			score:    1,
			category: "ivory",
			matches:  []string{"ivory.plastic description [0:13] white plastic"},
		},
		{
			name:    "requires within the field in another field",
			listing: wildwatch.Listing{Title: "white plastic", Description: "hand carved"},
			matches: []string{},
		},
		{
			name:    "requires_rules not met",
			listing: wildwatch.Listing{Title: "silver bangle"},
			matches: []string{},
		},
		{
			name:     "obfuscation bonus",
			listing:  wildwatch.Listing{Title: "i.v.o.r.y"},
			flagged:  true,
			score:    1.1,
			category: "ivory",
			matches:  []string{"ivory.word title [0:9] i.v.o.r.y", "obfuscation title [0:9] i.v.o.r.y"},
		},
		{
			name:     "homoglyph bonus",
			listing:  wildwatch.Listing{Title: "іvоry"},
			flagged:  true,
			score:    1.1,
			category: "ivory",
			matches:  []string{"ivory.word title [0:7] іvоry", "obfuscation title [0:7] іvоry"},
		},
		{
			name:     "best category wins",
			listing:  wildwatch.Listing{Title: "gibbon", Description: "rhino horn"},
			flagged:  true,
			score:    1,
			category: "rhino_horn",
			matches:  []string{"primate.species title [0:6] gibbon", "rhino.horn description [0:10] rhino horn"},
		},
		{
			name:     "seller and location are read",
			listing:  wildwatch.Listing{Title: "box", Seller: "象牙屋", Location: "Ivory Lane"},
			flagged:  true,
			score:    1.6,
			category: "ivory",
			matches:  []string{"ivory.cjk seller [0:6] 象牙", "ivory.word location [0:5] Ivory"},
		},
		{
			name:     "shared vocabulary through an anchor",
			listing:  wildwatch.Listing{Title: "tame baby gibbon"},
			flagged:  true,
			score:    1.4,
			category: "live_primate",
			matches:  []string{"primate.young title [0:4] tame", "primate.young title [5:9] baby", "primate.species title [10:16] gibbon"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := m.Match(tc.listing)
			if v.Flagged != tc.flagged || v.Review != tc.review || v.Score != tc.score || v.Category != tc.category {
				t.Errorf("flagged=%v review=%v score=%v category=%q, want %v %v %v %q",
					v.Flagged, v.Review, v.Score, v.Category, tc.flagged, tc.review, tc.score, tc.category)
			}
			if got := brief(v.Matches); strings.Join(got, "\n") != strings.Join(tc.matches, "\n") {
				t.Errorf("matches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.matches, "\n"))
			}
			if v.RuleSet != "test@7" {
				t.Errorf("RuleSet = %q", v.RuleSet)
			}
			for _, mt := range v.Matches {
				if mt.Weight == 0 {
					t.Errorf("match %s has no weight", mt.Rule)
				}
			}
		})
	}
}

func TestExclusions(t *testing.T) {
	t.Parallel()
	m := compileTest(t)
	tests := []struct {
		name       string
		listing    wildwatch.Listing
		score      float64
		matches    []string
		exclusions []string
	}{
		{
			name:       "overlap cancels",
			listing:    wildwatch.Listing{Title: "Ivory white dress"},
			exclusions: []string{"ivory.colour title [0:11] Ivory white"},
		},
		{
			name:       "match inside a longer exclusion",
			listing:    wildwatch.Listing{Title: "象牙白衣柜"},
			exclusions: []string{"ivory.colour title [0:9] 象牙白"},
		},
		{
			name:       "window cancels nearby",
			listing:    wildwatch.Listing{Title: "ivory coloured linen"},
			exclusions: []string{"ivory.goods title [15:20] linen"},
		},
		{
			name:    "outside the window",
			listing: wildwatch.Listing{Title: "ivory, with a note on the old linen"},
			score:   0.6,
			matches: []string{"ivory.word title [0:5] ivory"},
		},
		{
			name:    "exclusion limited to some rules",
			listing: wildwatch.Listing{Title: "象牙 linen"},
			score:   1,
			matches: []string{"ivory.cjk title [0:6] 象牙"},
		},
		{
			name:       "other field is out of the window",
			listing:    wildwatch.Listing{Title: "ivory", Description: "linen"},
			score:      0.6,
			matches:    []string{"ivory.word title [0:5] ivory"},
			exclusions: nil,
		},
		{
			name:       "listing scope",
			listing:    wildwatch.Listing{Title: "ivory figure", Description: "mammoth, from Siberia"},
			exclusions: []string{"ivory.mammoth description [0:7] mammoth"},
		},
		{
			name:       "rule-set exclusion applies to every category",
			listing:    wildwatch.Listing{Title: "plush gibbon"},
			exclusions: []string{"toy title [0:5] plush"},
		},
		{
			name:       "listing-wide campaign",
			listing:    wildwatch.Listing{Title: "rhino horn", Description: "sticker for our campaign"},
			exclusions: []string{"campaign description [16:24] campaign"},
		},
		{
			name:    "negation before voids the exclusion",
			listing: wildwatch.Listing{Title: "ivory bangle, not resin"},
			score:   1.1,
			matches: []string{"ivory.word title [0:5] ivory", "ivory.object title [6:12] bangle"},
		},
		{
			name:       "faux cancels",
			listing:    wildwatch.Listing{Title: "faux ivory bangle"},
			exclusions: []string{"ivory.faux title [0:4] faux"},
		},
		{
			name:    "unless voids the exclusion",
			listing: wildwatch.Listing{Title: "faux ivory bangle", Description: "clear Schreger lines"},
			score:   1.1,
			matches: []string{"ivory.word title [5:10] ivory", "ivory.object title [11:17] bangle"},
		},
		{
			name:    "exclusion inside a longer match does not cancel it",
			listing: wildwatch.Listing{Title: "白塑料手镯，不是普通塑料"},
			score:   1,
			matches: []string{"ivory.code title [0:9] 白塑料"},
		},
		{
			name:       "plastic cancels",
			listing:    wildwatch.Listing{Title: "ivory bangle, plastic"},
			exclusions: []string{"ivory.faux title [14:21] plastic"},
		},
		{
			name:    "except: an innocent phrase holding the exclusion term",
			listing: wildwatch.Listing{Title: "ivory bangle in a plastic bag"},
			score:   1.1,
			matches: []string{"ivory.word title [0:5] ivory", "ivory.object title [6:12] bangle"},
		},
		{
			name:    "negation after (Japanese)",
			listing: wildwatch.Listing{Title: "ivory 塑料ではない"},
			score:   0.6,
			matches: []string{"ivory.word title [0:5] ivory"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := m.Match(tc.listing)
			if v.Score != tc.score {
				t.Errorf("score = %v, want %v", v.Score, tc.score)
			}
			if tc.matches == nil {
				tc.matches = []string{}
			}
			if got := brief(v.Matches); strings.Join(got, "\n") != strings.Join(tc.matches, "\n") {
				t.Errorf("matches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.matches, "\n"))
			}
			if got := brief(v.Exclusions); strings.Join(got, "\n") != strings.Join(tc.exclusions, "\n") {
				t.Errorf("exclusions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.exclusions, "\n"))
			}
		})
	}
}

// TestMatchTextIsOriginal checks on the dev set that every match's Text is
// the original field text at its offsets.
func TestMatchTextIsOriginal(t *testing.T) {
	t.Parallel()
	m := defaultMatcher(t)
	for _, l := range readDevSet(t) {
		v := m.Match(l.Listing)
		fields := map[string]string{}
		for _, f := range l.TextFields() {
			fields[f.Name] = f.Value
		}
		for _, mt := range append(v.Matches, v.Exclusions...) {
			f := fields[mt.Field]
			if mt.Start < 0 || mt.End > len(f) || mt.Start >= mt.End || f[mt.Start:mt.End] != mt.Text {
				t.Errorf("%s: match %+v does not point into %q", l.ID, mt, f)
			}
		}
	}
}

func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	m := defaultMatcher(t)
	listings := readDevSet(t)
	want := make([]wildwatch.Verdict, len(listings))
	for i, l := range listings {
		want[i] = m.Match(l.Listing)
	}
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i, l := range listings {
				if got := m.Match(l.Listing); fmt.Sprint(got) != fmt.Sprint(want[i]) {
					done <- fmt.Errorf("%s: verdict differs between runs", l.ID)
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestRequiredLiteral(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		`\brhino(?:ceros)? (?:[a-z]+ ){0,2}horns?\b`:   "rhino",
		`\b(?:real|genuine) (?:old |antique )?ivory\b`: "ivory",
		`(?i)Tiger (?:bone|skin)`:                      "tiger ",
		`ivory|tusk`:                                   "",
		`[a-z]+`:                                       "",
		`\bpangolins? (?:[a-z]+ )?scales?\b`:           "pangolin",
		`papiere? (?:\w+ ){0,3}nicht vorhanden`:        "nicht vorhanden",
	} {
		if got := requiredLiteral(expr); got != want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", expr, got, want)
		}
	}
}
