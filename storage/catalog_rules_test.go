package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// catRuleSource returns a small rule set document; different n, different
// source.
func catRuleSource(name string, n int) []byte {
	return fmt.Appendf(nil, "name: %s\nthreshold: %d\ncategories: []\n", name, n)
}

func catSHA(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// catPutRuleSet applies src to name and checks the version and added it
// got.
func catPutRuleSet(t *testing.T, c *Catalog, name string, src []byte, wantVersion int, wantAdded bool) RuleSetVersion {
	t.Helper()
	v, added, err := c.PutRuleSet(t.Context(), name, src, "ana", "note "+name)
	if err != nil {
		t.Fatalf("PutRuleSet(%s): %v", name, err)
	}
	if v.Name != name || v.Version != wantVersion || added != wantAdded || string(v.Source) != string(src) || v.SHA256 != catSHA(src) {
		t.Fatalf("PutRuleSet(%s, %q) = %s@%d added %v, source %q, sha %s; want version %d added %v",
			name, src, v.Name, v.Version, added, v.Source, v.SHA256, wantVersion, wantAdded)
	}
	return v
}

// catRefs turns rule set versions into "name@version*" (* when active).
func catRefs(vs []RuleSetVersion) []string {
	var refs []string
	for _, v := range vs {
		ref := fmt.Sprintf("%s@%d", v.Name, v.Version)
		if v.Active {
			ref += "*"
		}
		refs = append(refs, ref)
	}
	return refs
}

func testCatalogRuleSets(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)

	if vs, err := c.ListRuleSets(ctx, ""); err != nil || vs == nil || len(vs) != 0 {
		t.Fatalf("ListRuleSets on an empty catalog = %#v, %v; want an empty slice", vs, err)
	}
	_, err := c.ActiveRuleSet(ctx)
	catErr(t, "ActiveRuleSet before any activation", err, ErrNotFound)
	_, err = c.GetRuleSet(ctx, "default", 0)
	catErr(t, "GetRuleSet(default, 0) before any activation", err, ErrNotFound)

	// Versions count per name; the same source as the latest is not a new
	// version, the same source as an older one is.
	v1 := catPutRuleSet(t, c, "default", catRuleSource("default", 1), 1, true)
	if v1.Active || v1.CreatedBy != "ana" || v1.Note != "note default" || v1.CreatedAt.IsZero() || v1.CreatedAt.Location() != time.UTC {
		t.Errorf("PutRuleSet returned %+v", v1)
	}
	v2 := catPutRuleSet(t, c, "default", catRuleSource("default", 2), 2, true)
	again, added, err := c.PutRuleSet(ctx, "default", catRuleSource("default", 2), "ben", "same again")
	if err != nil || added {
		t.Fatalf("PutRuleSet(latest source again) = added %v, %v; want false", added, err)
	}
	catSame(t, "PutRuleSet(latest source again)", again, v2)
	if string(again.Source) != string(v2.Source) {
		t.Errorf("PutRuleSet(latest source again) source %q, want %q", again.Source, v2.Source)
	}
	catPutRuleSet(t, c, "default", catRuleSource("default", 1), 3, true)
	other1 := catPutRuleSet(t, c, "field", catRuleSource("field", 1), 1, true)

	got, err := c.GetRuleSet(ctx, "default", 2)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "GetRuleSet(default, 2)", got, v2)
	if string(got.Source) != string(v2.Source) {
		t.Errorf("GetRuleSet(default, 2) source %q, want %q", got.Source, v2.Source)
	}

	// Activation is exclusive, across names, and GetRuleSet(name, 0)
	// follows it.
	tests := []struct {
		name     string
		version  int
		wantAll  []string
		wantName []string // ListRuleSets("default")
	}{
		{"default", 2, []string{"field@1", "default@3", "default@2*", "default@1"}, []string{"default@3", "default@2*", "default@1"}},
		{"default", 1, []string{"field@1", "default@3", "default@2", "default@1*"}, []string{"default@3", "default@2", "default@1*"}},
		{"field", 1, []string{"field@1*", "default@3", "default@2", "default@1"}, []string{"default@3", "default@2", "default@1"}},
		{"default", 3, []string{"field@1", "default@3*", "default@2", "default@1"}, []string{"default@3*", "default@2", "default@1"}},
		{"default", 3, []string{"field@1", "default@3*", "default@2", "default@1"}, []string{"default@3*", "default@2", "default@1"}},
	}
	for _, tc := range tests {
		ref := fmt.Sprintf("%s@%d", tc.name, tc.version)
		if err := c.ActivateRuleSet(ctx, tc.name, tc.version); err != nil {
			t.Fatalf("ActivateRuleSet(%s): %v", ref, err)
		}
		active, err := c.ActiveRuleSet(ctx)
		if err != nil || active.Name != tc.name || active.Version != tc.version || !active.Active ||
			active.SHA256 != catSHA(active.Source) || len(active.Source) == 0 {
			t.Fatalf("after activating %s: ActiveRuleSet = %s@%d active %v source %q, %v", ref, active.Name, active.Version, active.Active, active.Source, err)
		}
		for _, name := range []string{tc.name, ""} {
			cur, err := c.GetRuleSet(ctx, name, 0)
			if err != nil {
				t.Fatalf("after activating %s: GetRuleSet(%q, 0): %v", ref, name, err)
			}
			catSame(t, "GetRuleSet(0) after activating "+ref, cur, active)
			if string(cur.Source) != string(active.Source) {
				t.Errorf("GetRuleSet(%q, 0) source %q, want %q", name, cur.Source, active.Source)
			}
		}
		otherName := map[string]string{"default": "field", "field": "default"}[tc.name]
		_, err = c.GetRuleSet(ctx, otherName, 0)
		catErr(t, "GetRuleSet(inactive name, 0) after activating "+ref, err, ErrNotFound)

		all, err := c.ListRuleSets(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		catSame(t, "ListRuleSets(\"\") after activating "+ref, catRefs(all), tc.wantAll)
		named, err := c.ListRuleSets(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		catSame(t, "ListRuleSets(default) after activating "+ref, catRefs(named), tc.wantName)
		for _, v := range append(all, named...) {
			if v.Source != nil {
				t.Errorf("ListRuleSets returned the source of %s@%d", v.Name, v.Version)
			}
			if v.SHA256 == "" || v.CreatedAt.IsZero() || v.CreatedBy != "ana" {
				t.Errorf("ListRuleSets row %+v lacks its hash, time or author", v)
			}
		}
	}
	listed, err := c.ListRuleSets(ctx, "field")
	if err != nil || len(listed) != 1 {
		t.Fatalf("ListRuleSets(field) = %v, %v", listed, err)
	}
	other1.Source = nil
	catSame(t, "ListRuleSets(field)", listed[0], other1)
	if none, err := c.ListRuleSets(ctx, "nope"); err != nil || none == nil || len(none) != 0 {
		t.Errorf("ListRuleSets(unknown) = %#v, %v; want an empty slice", none, err)
	}

	// Refusals leave the active version alone.
	catErr(t, "ActivateRuleSet(unknown version)", c.ActivateRuleSet(ctx, "default", 9), ErrNotFound)
	catErr(t, "ActivateRuleSet(unknown name)", c.ActivateRuleSet(ctx, "nope", 1), ErrNotFound)
	catErr(t, "ActivateRuleSet(version 0)", c.ActivateRuleSet(ctx, "default", 0), ErrInvalid)
	if active, err := c.ActiveRuleSet(ctx); err != nil || active.Name != "default" || active.Version != 3 {
		t.Errorf("refused activations changed the active version: %s@%d, %v", active.Name, active.Version, err)
	}
	_, err = c.GetRuleSet(ctx, "default", 9)
	catErr(t, "GetRuleSet(unknown version)", err, ErrNotFound)
	_, err = c.GetRuleSet(ctx, "default", -1)
	catErr(t, "GetRuleSet(negative version)", err, ErrInvalid)
	for _, bad := range []struct {
		what, name string
		src        []byte
	}{
		{"no name", "", catRuleSource("x", 1)},
		{"name with @", "default@4", catRuleSource("x", 1)},
		{"empty source", "default", nil},
		{"not UTF-8", "default", []byte("name: \xff\xfe\n")},
		{"NUL byte", "default", []byte("name: x\x00\n")},
	} {
		_, _, err := c.PutRuleSet(ctx, bad.name, bad.src, "ana", "")
		catErr(t, "PutRuleSet("+bad.what+")", err, ErrInvalid)
	}
	if vs, err := c.ListRuleSets(ctx, "default"); err != nil || len(vs) != 3 {
		t.Errorf("refused applies were stored: %d versions, %v", len(vs), err)
	}
}

// testCatalogRuleSetRaces applies and activates rule sets from goroutines on
// two handles at once: every distinct source gets its own version, one
// source applied many times at once is stored once, and after concurrent
// activations exactly one version is active.
func testCatalogRuleSetRaces(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	cats := []*Catalog{openCatalogT(t, dsn), openCatalogT(t, dsn)}
	const workers = 6

	run := func(fn func(w int, c *Catalog) error) {
		t.Helper()
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, workers)
		for w := range workers {
			c := cats[w%2]
			wg.Go(func() {
				<-start
				if err := fn(w, c); err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}

	versions := make([]int, workers)
	run(func(w int, c *Catalog) error {
		v, added, err := c.PutRuleSet(ctx, "default", catRuleSource("default", w), "ana", "")
		if err != nil || !added {
			return fmt.Errorf("PutRuleSet(distinct source %d) = added %v, %v", w, added, err)
		}
		versions[w] = v.Version
		return nil
	})
	seen := map[int]bool{}
	for _, v := range versions {
		seen[v] = true
	}
	for v := 1; v <= workers; v++ {
		if !seen[v] {
			t.Errorf("concurrent applies got versions %v, want each of 1…%d once", versions, workers)
			break
		}
	}

	var addedCount atomic.Int32
	run(func(w int, c *Catalog) error {
		v, added, err := c.PutRuleSet(ctx, "field", catRuleSource("field", 1), "ana", "")
		if err != nil || v.Version != 1 {
			return fmt.Errorf("PutRuleSet(same source) = version %d, %v; want 1", v.Version, err)
		}
		if added {
			addedCount.Add(1)
		}
		return nil
	})
	if n := addedCount.Load(); n != 1 {
		t.Errorf("%d concurrent applies of one source reported added, want 1", n)
	}

	for round := range 4 {
		run(func(w int, c *Catalog) error {
			name, version := "default", 1+(w+round)%workers
			if w%3 == 0 {
				name, version = "field", 1
			}
			if err := c.ActivateRuleSet(ctx, name, version); err != nil {
				return fmt.Errorf("round %d: ActivateRuleSet(%s@%d): %v", round, name, version, err)
			}
			return nil
		})
		all, err := cats[round%2].ListRuleSets(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var actives []string
		for _, v := range all {
			if v.Active {
				actives = append(actives, fmt.Sprintf("%s@%d", v.Name, v.Version))
			}
		}
		active, err := cats[(round+1)%2].ActiveRuleSet(ctx)
		if err != nil {
			t.Fatalf("round %d: ActiveRuleSet: %v", round, err)
		}
		if len(actives) != 1 || actives[0] != fmt.Sprintf("%s@%d", active.Name, active.Version) {
			t.Errorf("round %d: active versions after concurrent activations %v, ActiveRuleSet %s@%d; want exactly that one",
				round, actives, active.Name, active.Version)
		}
	}
}

// testCatalogUpgradeRuleSets migrates a catalog of schema version 2 holding
// a reviewed flag: no rule set is active, the flag counts in RuleStats and
// rule sets can be applied.
func testCatalogUpgradeRuleSets(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	old, err := openCatalogDB(ctx, CatalogConfig{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.migrateTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	catSweep(t, old, "s1", "market", 0)
	f, _, err := old.PutFlag(ctx, catFlag(catCapture("s1", "c1", catTime), catTime))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.AddReview(ctx, wildwatch.Review{FlagID: f.ID, Decision: wildwatch.FlagConfirmed, Reviewer: "ana"}); err != nil {
		t.Fatal(err)
	}

	c := openCatalogT(t, dsn)
	_, err = c.ActiveRuleSet(ctx)
	catErr(t, "ActiveRuleSet after migrating", err, ErrNotFound)
	stats, err := c.RuleStats(ctx, RuleStatFilter{RuleSet: "default@3"})
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "RuleStats after migrating", stats, []RuleStat{
		{Rule: "ivory-zh", Category: "ivory", Confirmed: 1, Precision: 1},
		{Rule: "ivory-zh", Term: "象牙", Category: "ivory", Confirmed: 1, Precision: 1},
	})
	v := catPutRuleSet(t, c, "default", catRuleSource("default", 1), 1, true)
	if err := c.ActivateRuleSet(ctx, v.Name, v.Version); err != nil {
		t.Fatal(err)
	}
}
