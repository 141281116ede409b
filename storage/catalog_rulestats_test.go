package storage

import (
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// catMatch is a match of rule in category with text.
func catMatch(rule, category, text string) wildwatch.Match {
	return wildwatch.Match{Rule: rule, Category: category, Field: wildwatch.FieldTitle, Text: text, Weight: 1}
}

// catStat is a RuleStat row; precision is computed by RuleStats.
func catStat(rule, term, category string, confirmed, dismissed, pending int, precision float64) RuleStat {
	return RuleStat{Rule: rule, Term: term, Category: category, Confirmed: confirmed, Dismissed: dismissed, Pending: pending, Precision: precision}
}

func testCatalogRuleStats(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)

	if stats, err := c.RuleStats(ctx, RuleStatFilter{}); err != nil || stats == nil || len(stats) != 0 {
		t.Fatalf("RuleStats on an empty catalog = %#v, %v; want an empty slice", stats, err)
	}

	const en, zh, pangolin, tiger = "ivory.en", "ivory.zh", "pangolin.scales", "tiger.parts"
	seed := []struct {
		id, ruleSet string
		at          time.Duration
		matches     []wildwatch.Match
		reviews     []string // decisions in order; the last is the status
	}{
		// ivory.en matched three times, twice with one term in other cases:
		// the flag counts once for the rule and once for "ivory".
		{"f1", "default@1", 1 * time.Hour, []wildwatch.Match{
			catMatch(en, "ivory", "Ivory"), catMatch(en, "ivory", "ivory"), catMatch(zh, "ivory", "象牙"),
			catMatch(tiger, "tiger", "Tiger Bone"), catMatch(en, "ivory", "IVORY"),
		}, []string{wildwatch.FlagConfirmed}},
		{"f2", "default@1", 2 * time.Hour, []wildwatch.Match{catMatch(en, "ivory", "IVORY")}, []string{wildwatch.FlagDismissed}},
		{"f3", "default@1", 3 * time.Hour, []wildwatch.Match{catMatch(zh, "ivory", "象牙"), catMatch(pangolin, "pangolin", "scales")}, nil},
		{"f4", "default@2", 4 * time.Hour, []wildwatch.Match{catMatch(en, "ivory", "ivory"), catMatch(en, "ivory", "Tusk")},
			[]string{wildwatch.FlagDismissed, wildwatch.FlagConfirmed}},
		{"f5", "default@2", 5 * time.Hour, []wildwatch.Match{catMatch(tiger, "tiger", "tiger bone"), catMatch(en, "ivory", "Ivory")},
			[]string{wildwatch.FlagConfirmed, wildwatch.FlagDismissed}},
		// A flag without matches counts for no rule.
		{"f6", "default@1", 6 * time.Hour, []wildwatch.Match{}, []string{wildwatch.FlagConfirmed}},
		// Another rule set whose name starts with the first one's.
		{"f7", "defaults@1", 6*time.Hour + 30*time.Minute, []wildwatch.Match{catMatch(pangolin, "pangolin", "Scales")}, nil},
	}
	for _, sd := range seed {
		f := catFlag(catCapture("s1", "cap-"+sd.id, catTime), catTime.Add(sd.at))
		f.ID = sd.id
		f.Verdict.Matches, f.Verdict.RuleSet = sd.matches, sd.ruleSet
		if _, added, err := c.PutFlag(ctx, f); err != nil || !added {
			t.Fatalf("PutFlag(%s) = %v, %v", sd.id, added, err)
		}
		for i, d := range sd.reviews {
			r := wildwatch.Review{FlagID: sd.id, Decision: d, Reviewer: "ana", At: catTime.Add(sd.at + time.Duration(i+1)*time.Minute)}
			if _, err := c.AddReview(ctx, r); err != nil {
				t.Fatalf("AddReview(%s, %s): %v", sd.id, d, err)
			}
		}
	}

	tests := []struct {
		name string
		f    RuleStatFilter
		want []RuleStat
	}{
		{"all", RuleStatFilter{}, []RuleStat{
			catStat(en, "", "ivory", 2, 2, 0, 0.5),
			catStat(en, "ivory", "ivory", 2, 2, 0, 0.5),
			catStat(en, "tusk", "ivory", 1, 0, 0, 1),
			catStat(zh, "", "ivory", 1, 0, 1, 1),
			catStat(zh, "象牙", "ivory", 1, 0, 1, 1),
			catStat(pangolin, "", "pangolin", 0, 0, 2, 0),
			catStat(pangolin, "scales", "pangolin", 0, 0, 2, 0),
			catStat(tiger, "", "tiger", 1, 1, 0, 0.5),
			catStat(tiger, "tiger bone", "tiger", 1, 1, 0, 0.5),
		}},
		{"every version of a rule set", RuleStatFilter{RuleSet: "default"}, []RuleStat{
			catStat(en, "", "ivory", 2, 2, 0, 0.5),
			catStat(en, "ivory", "ivory", 2, 2, 0, 0.5),
			catStat(en, "tusk", "ivory", 1, 0, 0, 1),
			catStat(zh, "", "ivory", 1, 0, 1, 1),
			catStat(zh, "象牙", "ivory", 1, 0, 1, 1),
			catStat(pangolin, "", "pangolin", 0, 0, 1, 0),
			catStat(pangolin, "scales", "pangolin", 0, 0, 1, 0),
			catStat(tiger, "", "tiger", 1, 1, 0, 0.5),
			catStat(tiger, "tiger bone", "tiger", 1, 1, 0, 0.5),
		}},
		{"rule set", RuleStatFilter{RuleSet: "default@1"}, []RuleStat{
			catStat(en, "", "ivory", 1, 1, 0, 0.5),
			catStat(en, "ivory", "ivory", 1, 1, 0, 0.5),
			catStat(zh, "", "ivory", 1, 0, 1, 1),
			catStat(zh, "象牙", "ivory", 1, 0, 1, 1),
			catStat(pangolin, "", "pangolin", 0, 0, 1, 0),
			catStat(pangolin, "scales", "pangolin", 0, 0, 1, 0),
			catStat(tiger, "", "tiger", 1, 0, 0, 1),
			catStat(tiger, "tiger bone", "tiger", 1, 0, 0, 1),
		}},
		{"other rule set", RuleStatFilter{RuleSet: "default@2"}, []RuleStat{
			catStat(en, "", "ivory", 1, 1, 0, 0.5),
			catStat(en, "ivory", "ivory", 1, 1, 0, 0.5),
			catStat(en, "tusk", "ivory", 1, 0, 0, 1),
			catStat(tiger, "", "tiger", 0, 1, 0, 0),
			catStat(tiger, "tiger bone", "tiger", 0, 1, 0, 0),
		}},
		{"since", RuleStatFilter{Since: catTime.Add(3 * time.Hour)}, []RuleStat{
			catStat(en, "", "ivory", 1, 1, 0, 0.5),
			catStat(en, "ivory", "ivory", 1, 1, 0, 0.5),
			catStat(en, "tusk", "ivory", 1, 0, 0, 1),
			catStat(zh, "", "ivory", 0, 0, 1, 0),
			catStat(zh, "象牙", "ivory", 0, 0, 1, 0),
			catStat(pangolin, "", "pangolin", 0, 0, 2, 0),
			catStat(pangolin, "scales", "pangolin", 0, 0, 2, 0),
			catStat(tiger, "", "tiger", 0, 1, 0, 0),
			catStat(tiger, "tiger bone", "tiger", 0, 1, 0, 0),
		}},
		{"rule set and since", RuleStatFilter{RuleSet: "default@1", Since: catTime.Add(2*time.Hour + time.Microsecond)}, []RuleStat{
			catStat(zh, "", "ivory", 0, 0, 1, 0),
			catStat(zh, "象牙", "ivory", 0, 0, 1, 0),
			catStat(pangolin, "", "pangolin", 0, 0, 1, 0),
			catStat(pangolin, "scales", "pangolin", 0, 0, 1, 0),
		}},
		{"unknown rule set", RuleStatFilter{RuleSet: "default@9"}, []RuleStat{}},
		{"since the last flag", RuleStatFilter{Since: catTime.Add(7 * time.Hour)}, []RuleStat{}},
	}
	for _, tc := range tests {
		got, err := c.RuleStats(ctx, tc.f)
		if err != nil {
			t.Fatalf("RuleStats(%s): %v", tc.name, err)
		}
		if got == nil {
			t.Errorf("RuleStats(%s) = nil, want a non-nil slice", tc.name)
		}
		catSame(t, "RuleStats("+tc.name+")", got, tc.want)
	}

	// A review moves a flag from pending to reviewed.
	if _, err := c.AddReview(ctx, wildwatch.Review{FlagID: "f3", Decision: wildwatch.FlagDismissed, Reviewer: "ben"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.RuleStats(ctx, RuleStatFilter{RuleSet: "default@1", Since: catTime.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "RuleStats after reviewing f3", got, []RuleStat{
		catStat(zh, "", "ivory", 0, 1, 0, 0),
		catStat(zh, "象牙", "ivory", 0, 1, 0, 0),
		catStat(pangolin, "", "pangolin", 0, 1, 0, 0),
		catStat(pangolin, "scales", "pangolin", 0, 1, 0, 0),
	})
}
