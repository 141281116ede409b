package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const head = "name: t\nversion: 1\nthresholds: {flag: 1, review: 0.5}\n"
	tests := []struct {
		name string
		doc  string
		line int
		want string // in the message
	}{
		{"yaml syntax", "name: t\nversion: 1\nkey: value: other\n", 3, "mapping values are not allowed"},
		{"unknown top-level key", head + "threshold: 1\n", 4, `unknown key "threshold" in rule set`},
		{"unknown rule key", head + "categories:\n  - name: ivory\n    rules:\n      - id: a\n        weigth: 1\n", 8, `unknown key "weigth" in rule`},
		{"unknown exclusion key", head + "categories:\n  - name: ivory\n    rules: [{id: a, weight: 1, terms: [x]}]\n    exclusions:\n      - id: b\n        terms: [y]\n        windw: 3\n", 10, `unknown key "windw" in exclusion`},
		{"duplicate key", head + "name: u\n", 4, `key "name" given twice`},
		{"weight not a number", head + "categories:\n  - name: ivory\n    rules:\n      - id: a\n        weight: heavy\n", 8, "weight must be a number"},
		{"version not an integer", "name: t\nversion: one\n", 2, "version must be an integer"},
		{"terms not a list", head + "categories:\n  - name: ivory\n    rules:\n      - id: a\n        weight: 1\n        terms: ivory\n", 9, "terms must be a mapping"},
		{"bad language", head + "categories:\n  - name: ivory\n    rules:\n      - id: a\n        weight: 1\n        terms: {English: [ivory]}\n", 9, `"English" is not a language code`},
		{"bad scope", head + "categories:\n  - name: ivory\n    rules: [{id: a, weight: 1, terms: [x]}]\n    exclusions:\n      - id: b\n        terms: [y]\n        scope: everywhere\n", 10, `scope must be "near" or "listing"`},
		{"unknown category", head + "categories:\n  - name: ivroy\n    rules: [{id: a, weight: 1, terms: [x]}]\n", 5, `unknown category "ivroy"`},
		{"duplicate rule id", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1, terms: [x]}\n      - {id: a, weight: 1, terms: [y]}\n", 8, `rule id "a" is already used`},
		{"reserved id", head + "categories:\n  - name: ivory\n    rules:\n      - {id: obfuscation, weight: 1, terms: [x]}\n", 7, "reserved"},
		{"zero weight", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 0, terms: [x]}\n", 7, "rule a: weight must be positive"},
		{"rule without terms", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1}\n", 7, "rule a: no terms and no regex"},
		{"empty term", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1, terms: [\"--\"]}\n", 7, `term "--" is empty once normalised`},
		{"bad regexp names the rule", head + "categories:\n  - name: ivory\n    rules:\n      - id: ivory.re\n        weight: 1\n        regex: ['ivory(']\n", 7, "rule ivory.re: regexp \"ivory(\""},
		{"regexp matching nothing", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1, regex: ['x*']}\n", 7, "matches the empty string"},
		{"unknown requires_rules", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1, terms: [x], requires_rules: [b]}\n", 7, `rule a: requires_rules: no rule "b"`},
		{"chained requires_rules", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1, terms: [x]}\n      - {id: b, weight: 1, terms: [y], requires_rules: [a]}\n      - {id: c, weight: 1, terms: [z], requires_rules: [b]}\n", 9, "has requires_rules of its own"},
		{"exclusion names unknown rule", head + "categories:\n  - name: ivory\n    rules: [{id: a, weight: 1, terms: [x]}]\n    exclusions:\n      - {id: b, terms: [y], rules: [zz]}\n", 8, `exclusion b: rules: no rule "zz"`},
		{"review above flag", "name: t\nversion: 1\nthresholds: {flag: 1, review: 2}\ncategories: [{name: ivory, rules: [{id: a, weight: 1, terms: [x]}]}]\n", 1, "thresholds.review must be between"},
		{"no categories", head, 1, "no categories"},
		{"bad within", head + "categories:\n  - name: ivory\n    rules:\n      - id: a\n        weight: 1\n        terms: [x]\n        requires: [y]\n        within: near\n", 11, `within must be "field" or a number`},
		{"within without requires", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1, terms: [x], within: 5}\n", 7, "rule a: within needs requires"},
		{"wildcard on a cjk term", head + "categories:\n  - name: ivory\n    rules:\n      - {id: a, weight: 1, terms: ['象牙*']}\n", 7, "has no use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("pack.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.File != "pack.yaml" || pe.Line != tc.line {
				t.Errorf("error at %s:%d, want pack.yaml:%d (%v)", pe.File, pe.Line, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "pack.yaml:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	rs, err := Parse("test.yaml", []byte(testPack))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Name != "test" || rs.Version != 7 || rs.Threshold != 1 || rs.ReviewThreshold != 0.5 || rs.ObfuscationWeight != 0.5 {
		t.Errorf("header = %q %d %v %v %v", rs.Name, rs.Version, rs.Threshold, rs.ReviewThreshold, rs.ObfuscationWeight)
	}
	if len(rs.Exclusions) != 2 || !rs.Exclusions[1].Listing || rs.Exclusions[0].Window != 10 {
		t.Errorf("rule-set exclusions = %+v", rs.Exclusions)
	}
	if len(rs.Categories) != 3 || rs.Categories[0].Name != "ivory" || len(rs.Categories[0].Rules) != 8 {
		t.Fatalf("categories = %+v", rs.Categories)
	}
	if lines, plastic := rs.Categories[0].Rules[5], rs.Categories[0].Rules[6]; lines.Within != 12 || plastic.Within != WithinField {
		t.Errorf("within = %d and %d, want 12 and WithinField", lines.Within, plastic.Within)
	}
	r := rs.Categories[0].Rules[0]
	if r.ID != "ivory.word" || r.Weight != 0.6 || r.Max != 0.6 || r.Line == 0 ||
		strings.Join(r.Terms["de"], ",") != "elfenbein*" {
		t.Errorf("first rule = %+v", r)
	}
	young := rs.Categories[2].Rules[1]
	if strings.Join(young.Terms[""], ",") != "baby,tame" || young.RequiresRules[0] != "primate.species" {
		t.Errorf("rule with anchored terms = %+v", young)
	}
	if x := rs.Categories[0].Exclusions[2]; strings.Join(x.Unless[""], ",") != "schreger" || x.Window != 20 {
		t.Errorf("exclusion with unless = %+v", x)
	}
}

func TestCompileChecksHandBuiltRuleSets(t *testing.T) {
	t.Parallel()
	rs := &RuleSet{Name: "code", Version: 1, Threshold: 1, Categories: []Category{{
		Name:  "ivory",
		Rules: []Rule{{ID: "ivory.bad", Weight: 1, Regex: []string{"[z-a]"}}},
	}}}
	_, err := Compile(rs)
	if err == nil || !strings.Contains(err.Error(), "rule ivory.bad: regexp") {
		t.Fatalf("Compile error = %v, want one naming rule ivory.bad", err)
	}
	rs.Categories[0].Rules[0].Regex = []string{`\bivory\b`}
	m, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != "code@1" {
		t.Errorf("Version() = %q", m.Version())
	}
}
