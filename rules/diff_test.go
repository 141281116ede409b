package rules

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func mustParse(t *testing.T, name, src string) *RuleSet {
	t.Helper()
	rs, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func readPack(t *testing.T, path string) *RuleSet {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, path, string(b))
}

// TestDiffGolden diffs testdata/diff/old.yaml against new.yaml and compares
// the text with testdata/diff/diff.golden; -update rewrites it.
func TestDiffGolden(t *testing.T) {
	t.Parallel()
	changes := Diff(readPack(t, "testdata/diff/old.yaml"), readPack(t, "testdata/diff/new.yaml"))
	var got bytes.Buffer
	FormatDiff(&got, changes)
	const golden = "testdata/diff/diff.golden"
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got.String() != string(want) {
		t.Errorf("diff differs from %s (run go test -update if the change is intended):\n%s", golden, got.String())
	}
	// Every change names its side: added ones have New only, removed
	// ones Old only.
	for _, c := range changes {
		switch {
		case c.Kind == ChangeAdded && (c.Old != "" || c.New == ""),
			c.Kind == ChangeRemoved && (c.New != "" || c.Old == ""),
			c.Kind == ChangeChanged && c.Old == c.New:
			t.Errorf("change %+v", c)
		}
	}
}

const setA = `name: t
version: 1
thresholds: {flag: 1.0, review: 0.5}
categories:
  - name: ivory
    rules:
      - id: ivory.plain
        weight: 1.0
        terms:
          en: [ivory tusk]
  - name: tiger
    rules:
      - id: tiger.parts
        weight: 1.0
        terms:
          en: [tiger skin]
`

const setB = `name: t
version: 2
thresholds: {flag: 0.9, review: 0.5}
categories:
  - name: ivory
    rules:
      - id: ivory.plain
        weight: 1.0
        terms:
          en: [ivory tusk, elephant tusk]
  - name: pangolin
    rules:
      - id: pangolin.scales
        weight: 1.0
        terms:
          en: [pangolin scales]
`

func TestDiff(t *testing.T) {
	t.Parallel()
	a, b := mustParse(t, "a.yaml", setA), mustParse(t, "b.yaml", setB)
	reordered := mustParse(t, "a.yaml", setA)
	reordered.Categories[0], reordered.Categories[1] = reordered.Categories[1], reordered.Categories[0]
	plain := mustParse(t, "a.yaml", setA)
	plain.Categories[1].Rules[0].Terms = Terms{"": {"tiger skin", "tiger bone"}}
	tests := []struct {
		name     string
		old, new *RuleSet
		want     string
	}{
		{"two versions", a, b, `~ thresholds.flag: 1 → 0.9
+ categories.ivory.rules.ivory.plain.terms.en: elephant tusk
- categories.tiger: 1 rule, 0 exclusions, 1 term
+ categories.pangolin: 1 rule, 0 exclusions, 1 term
`},
		{"same", a, mustParse(t, "again.yaml", setA), "no changes\n"},
		{"name and version do not count", a, mustParse(t, "v9.yaml", strings.Replace(setA, "version: 1", "version: 9", 1)), "no changes\n"},
		{"category order", a, reordered, "~ categories.order: ivory, tiger → tiger, ivory\n"},
		{"terms without a language", a, plain, `+ categories.tiger.rules.tiger.parts.terms: tiger skin
+ categories.tiger.rules.tiger.parts.terms: tiger bone
- categories.tiger.rules.tiger.parts.terms.en: tiger skin
`},
		{"from nothing", nil, a, `~ thresholds.flag: 0 → 1
~ thresholds.review: 0 → 0.5
+ categories.ivory: 1 rule, 0 exclusions, 1 term
+ categories.tiger: 1 rule, 0 exclusions, 1 term
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got strings.Builder
			FormatDiff(&got, Diff(tc.old, tc.new))
			if got.String() != tc.want {
				t.Errorf("diff:\n%s\nwant:\n%s", got.String(), tc.want)
			}
		})
	}
}
