package workers_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

func TestActiveRulesFollowsActivation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	fallback, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	src := workers.ActiveRules{Catalog: cat, Fallback: fallback, Refresh: time.Nanosecond}
	l := wildwatch.Listing{Title: "Carved walrus tusk"}

	m, err := src.Matcher(ctx)
	if err != nil || m != wildwatch.Matcher(fallback) {
		t.Fatalf("with nothing active: %v %v", m, err)
	}
	small := []byte("name: small\nversion: 7\nthresholds: {flag: 1.0, review: 0.5}\ncategories:\n  - name: ivory\n    rules:\n      - id: ivory.plain\n        weight: 1.0\n        terms:\n          en: [tusk]\n")
	v, _, err := cat.PutRuleSet(ctx, "small", small, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.ActivateRuleSet(ctx, v.Name, v.Version); err != nil {
		t.Fatal(err)
	}
	m, err = src.Matcher(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() != "small@1" || !m.Match(l).Flagged {
		t.Fatalf("after activation: %s flags %q: %v", m.Version(), l.Title, m.Match(l).Flagged)
	}
	again, _ := src.Matcher(ctx)
	if again != m {
		t.Error("the same active version was compiled again")
	}
}
