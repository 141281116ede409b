package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/rules"
)

const smallRules = `name: small
version: 1
thresholds: {flag: 1.0, review: 0.5}
categories:
  - name: ivory
    rules:
      - id: ivory.plain
        weight: 1.0
        terms:
          en: [tusk]
`

func TestRulesLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	admin, monitor := b.client(api.RoleAdmin), b.client(api.RoleMonitor)

	if _, err := monitor.ApplyRules(ctx, "small.yaml", []byte(smallRules), true, ""); status(err) != 403 {
		t.Fatalf("a monitor applied rules: %v", err)
	}
	if _, err := admin.ApplyRules(ctx, "bad.yaml", []byte("name: x\nversion: [\n"), false, ""); status(err) != 400 || !strings.Contains(err.Error(), "bad.yaml:") {
		t.Fatalf("a malformed rule set: %v", err)
	}
	first, err := admin.ApplyRules(ctx, "default.yaml", rules.DefaultYAML(), true, "start")
	if err != nil || !first.Added || !first.Active || first.Version != 1 {
		t.Fatalf("apply default: %+v %v", first, err)
	}
	again, err := admin.ApplyRules(ctx, "default.yaml", rules.DefaultYAML(), false, "")
	if err != nil || again.Added || again.Version != 1 {
		t.Fatalf("applying the same source again: %+v %v", again, err)
	}
	src, err := monitor.RuleSource(ctx, "active")
	if err != nil || string(src) != string(rules.DefaultYAML()) {
		t.Fatalf("show active: %d bytes, %v", len(src), err)
	}

	// Stored listings for the backtest: one the small set flags and the
	// default does not, and one the default flags and the small set does not.
	for i, l := range []wildwatch.Listing{
		{URL: "http://x/item/a", Title: "Carved walrus tusk"},
		{URL: "http://x/item/b", Title: "Écailles de pangolin séchées"},
	} {
		putCapture(t, b, "c-bt-"+string(rune('a'+i)), l)
	}
	rep, err := admin.Backtest(ctx, "small.yaml", []byte(smallRules))
	if err != nil {
		t.Fatal(err)
	}
	added := false
	for _, x := range rep.Added {
		added = added || x.URL == "http://x/item/a"
	}
	if rep.Listings != 3 || !added {
		t.Fatalf("backtest added %+v of %d listings", rep.Added, rep.Listings)
	}
	removed := false
	for _, x := range rep.Removed {
		removed = removed || x.URL == "http://x/item/b"
	}
	if !removed {
		t.Fatalf("backtest removed %+v", rep.Removed)
	}

	second, err := admin.ApplyRules(ctx, "small.yaml", []byte(smallRules), false, "")
	if err != nil || second.Name != "small" || second.Version != 1 || second.Active {
		t.Fatalf("apply small: %+v %v", second, err)
	}
	if _, err := admin.ActivateRules(ctx, "small@1"); err != nil {
		t.Fatal(err)
	}
	list, err := monitor.RuleSets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, v := range list {
		if v.Active {
			active++
			if v.Name != "small" {
				t.Errorf("active after activation: %+v", v)
			}
		}
	}
	if active != 1 || len(list) != 2 {
		t.Fatalf("rule sets %+v", list)
	}
	d, err := monitor.DiffRules(ctx, "default@1", "small@1")
	if err != nil || len(d.Changes) == 0 || d.Text == "" {
		t.Fatalf("diff: %+v %v", d, err)
	}
	if _, err := monitor.RuleStats(ctx, ""); err != nil {
		t.Fatalf("stats: %v", err)
	}
}
