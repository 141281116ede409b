package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wildwatch/wildwatch"
)

// RuleStat is how reviewers judged the flags a rule (or one of its terms)
// took part in.
type RuleStat struct {
	// Rule is the rule's ID (wildwatch.Match.Rule).
	Rule string `json:"rule"`
	// Term is "" for the rule's own row; else the matched text in lower
	// case.
	Term     string `json:"term"`
	Category string `json:"category,omitempty"`
	// Confirmed and Dismissed count flags by their current status; Pending
	// counts flags not reviewed yet.
	Confirmed int `json:"confirmed"`
	Dismissed int `json:"dismissed"`
	Pending   int `json:"pending"`
	// Precision is Confirmed / (Confirmed + Dismissed); 0 when none was
	// reviewed.
	Precision float64 `json:"precision"`
}

// RuleStatFilter selects the flags RuleStats reads. Zero fields do not
// filter.
type RuleStatFilter struct {
	// RuleSet is the "name@version" that raised the flag (Flag.RuleSet),
	// or a rule set's name alone for every version of it.
	RuleSet string
	// Since bounds the flags' CreatedAt: Since ≤ CreatedAt.
	Since time.Time
}

// ruleStatKey identifies a RuleStat row; term "" is the rule's own row.
type ruleStatKey struct{ rule, term string }

// flagMatches is the part of a flag's verdict RuleStats reads.
type flagMatches struct {
	Matches []struct {
		Rule     string `json:"rule"`
		Category string `json:"category"`
		Text     string `json:"text"`
	} `json:"matches"`
}

// RuleStats counts, for every rule that matched in the flags f selects and
// for every (rule, term) pair, how many of those flags reviewers confirmed
// or dismissed (by the flag's current status) and how many wait for
// review. A flag counts once per rule and once per (rule, term), however
// often the rule matched in it. Rows come sorted by rule, then term, the
// rule's own row (term "") first. The flags are read in one streamed
// query; memory grows with the rows returned, not with the flags read.
func (c *Catalog) RuleStats(ctx context.Context, f RuleStatFilter) ([]RuleStat, error) {
	var w sqlWhere
	switch {
	case strings.Contains(f.RuleSet, "@"):
		w.add("rule_set = ?", f.RuleSet)
	case f.RuleSet != "":
		prefix := f.RuleSet + "@"
		w.conds = append(w.conds, "substr(rule_set, 1, "+w.arg(utf8.RuneCountInString(prefix))+") = "+w.arg(prefix))
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", unixMicros(f.Since))
	}
	rows, err := c.db.QueryContext(ctx, `SELECT status, verdict FROM flags`+w.String(), w.args...)
	if err != nil {
		return nil, fmt.Errorf("reading rule stats: %w", err)
	}
	defer rows.Close()
	stats := map[ruleStatKey]*RuleStat{}
	seen := map[ruleStatKey]bool{} // in the flag at hand
	for rows.Next() {
		var status, verdict string
		if err := rows.Scan(&status, &verdict); err != nil {
			return nil, fmt.Errorf("reading rule stats: %w", err)
		}
		var v flagMatches
		if err := json.Unmarshal([]byte(verdict), &v); err != nil {
			return nil, fmt.Errorf("reading rule stats: decoding verdict: %w", err)
		}
		clear(seen)
		for _, m := range v.Matches {
			if m.Rule == "" {
				continue
			}
			keys := []ruleStatKey{{m.Rule, ""}}
			if term := strings.ToLower(m.Text); term != "" {
				keys = append(keys, ruleStatKey{m.Rule, term})
			}
			for _, k := range keys {
				if seen[k] {
					continue
				}
				seen[k] = true
				st := stats[k]
				if st == nil {
					st = &RuleStat{Rule: k.rule, Term: k.term}
					stats[k] = st
				}
				st.Category = cmp.Or(st.Category, m.Category)
				switch status {
				case wildwatch.FlagConfirmed:
					st.Confirmed++
				case wildwatch.FlagDismissed:
					st.Dismissed++
				default:
					st.Pending++
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading rule stats: %w", err)
	}
	out := make([]RuleStat, 0, len(stats))
	for _, st := range stats {
		if reviewed := st.Confirmed + st.Dismissed; reviewed > 0 {
			st.Precision = float64(st.Confirmed) / float64(reviewed)
		}
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b RuleStat) int {
		return cmp.Or(strings.Compare(a.Rule, b.Rule), strings.Compare(a.Term, b.Term))
	})
	return out, nil
}
