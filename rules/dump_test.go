package rules

import (
	"fmt"
	"testing"
)

func TestDumpDev(t *testing.T) {
	m := defaultMatcher(t)
	for _, l := range readDevSet(t) {
		v := m.Match(l.Listing)
		s := ""
		for _, x := range v.Matches {
			s += fmt.Sprintf(" %s[%s:%q]", x.Rule, x.Field[:1], x.Text)
		}
		e := ""
		for _, x := range v.Exclusions {
			e += fmt.Sprintf(" %s[%q]", x.Rule, x.Text)
		}
		fmt.Printf("%s %-8s %-14s F=%-5v R=%-5v %.2f %-14s |%s || %s\n", l.ID, l.Label, l.Category, v.Flagged, v.Review, v.Score, v.Category, s, e)
	}
}
