package rules_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/rules"
)

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

func mustParse(t *testing.T, name, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestDiff(t *testing.T) {
	t.Parallel()
	changes := rules.Diff(mustParse(t, "a.yaml", setA), mustParse(t, "b.yaml", setB))
	var buf bytes.Buffer
	rules.FormatDiff(&buf, changes)
	want := `~ thresholds.flag: 1 → 0.9
+ categories.ivory.rules.ivory.plain.terms.en: elephant tusk
+ categories.pangolin: 1 rules
- categories.tiger: 1 rules
`
	if buf.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", buf.String(), want)
	}
	if d := rules.Diff(mustParse(t, "a.yaml", setA), mustParse(t, "a.yaml", setA)); len(d) != 0 {
		t.Errorf("a set against itself: %v", d)
	}
}

func TestBacktest(t *testing.T) {
	t.Parallel()
	a, err := rules.Compile(mustParse(t, "a.yaml", setA))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rules.Compile(mustParse(t, "b.yaml", setB))
	if err != nil {
		t.Fatal(err)
	}
	listings := []wildwatch.Listing{
		{URL: "u1", Title: "Ivory tusk, carved"},
		{URL: "u2", Title: "Elephant tusk for sale"},
		{URL: "u3", Title: "Tiger skin rug"},
		{URL: "u4", Title: "Pangolin scales 1kg"},
		{URL: "u5", Title: "Bicycle"},
	}
	rep := rules.Backtest(a, b, listings)
	urls := func(xs []rules.BacktestExample) string {
		var s []string
		for _, x := range xs {
			s = append(s, x.URL)
		}
		return strings.Join(s, ",")
	}
	if rep.Listings != 5 || urls(rep.Added) != "u2,u4" || urls(rep.Removed) != "u3" {
		t.Fatalf("report %+v", rep)
	}
	got := map[string]rules.CategoryDelta{}
	for _, c := range rep.Categories {
		got[c.Category] = c
	}
	if got["ivory"].Flagged != 2 || got["ivory"].Added != 1 || got["tiger"].Removed != 1 || got["pangolin"].Added != 1 {
		t.Fatalf("categories %+v", rep.Categories)
	}
}
