package main

import (
	"testing"

	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

func TestAnnotateRuleStats(t *testing.T) {
	t.Parallel()
	src := "name: t\nversion: 2\nthresholds: {flag: 1}\ncategories:\n" +
		"  - name: ivory\n    rules:\n" +
		"      - id: ivory.word   # the plain word\n        weight: 1\n        terms: [ivory]\n" +
		"      - {id: \"ivory.cjk\", weight: 1, terms: [象牙]}\n" +
		"      - id: ivory.unreviewed\n        weight: 1\n        terms: [tusk]\n" +
		"    exclusions:\n      - id: ivory.word2\n        terms: [ivory white]\n"
	stats := []storage.RuleStat{
		{Rule: "ivory.word", Confirmed: 3, Dismissed: 1, Pending: 2, Precision: 0.75},
		{Rule: "ivory.word", Term: "ivory", Confirmed: 3, Dismissed: 1, Precision: 0.75},
		{Rule: "ivory.cjk", Pending: 1},
	}
	got := string(annotateRuleStats([]byte(src), stats))
	want := "name: t\nversion: 2\nthresholds: {flag: 1}\ncategories:\n" +
		"  - name: ivory\n    rules:\n" +
		"      - id: ivory.word   # the plain word · reviewed: 3 confirmed, 1 dismissed, 2 pending; precision 0.75\n        weight: 1\n        terms: [ivory]\n" +
		"      - {id: \"ivory.cjk\", weight: 1, terms: [象牙]}  # reviewed: 0 confirmed, 0 dismissed, 1 pending\n" +
		"      - id: ivory.unreviewed\n        weight: 1\n        terms: [tusk]\n" +
		"    exclusions:\n      - id: ivory.word2\n        terms: [ivory white]\n"
	if got != want {
		t.Fatalf("annotated:\n%s\nwant:\n%s", got, want)
	}
	// The notes are comments: the rule set reads the same.
	a, err := rules.Parse("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rules.Parse("b.yaml", []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if d := rules.Diff(a, b); len(d) != 0 {
		t.Errorf("annotating changed the rule set: %+v", d)
	}
}
