package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// A sweep's tasks decide when it is finished: the call that settles the
// last pending task is told so, exactly once.
func ExampleCatalog_FinishTask() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wildwatch-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: "sqlite:" + filepath.Join(dir, "wildwatch.db")})
	if err != nil {
		panic(err)
	}
	defer cat.Close()

	target := wildwatch.Target{Name: "market", AllowedHosts: []string{"market.example"}}
	if err := cat.CreateSweep(ctx, wildwatch.Sweep{ID: "sweep-1"}, target); err != nil {
		panic(err)
	}
	for _, t := range []storage.SweepTask{
		{SweepID: "sweep-1", Key: "index:1", Kind: wildwatch.PageIndex, URL: "https://market.example/c?p=1", Page: 1},
		{SweepID: "sweep-1", Key: "listing:42", Kind: wildwatch.PageListing, URL: "https://market.example/i/42"},
		{SweepID: "sweep-1", Key: "listing:42", Kind: wildwatch.PageListing, URL: "https://market.example/i/42"},
	} {
		added, err := cat.AddTask(ctx, t)
		if err != nil {
			panic(err)
		}
		fmt.Println("added", t.Key, added)
	}
	for _, key := range []string{"index:1", "listing:42", "listing:42"} {
		done, err := cat.FinishTask(ctx, "sweep-1", key, false)
		if err != nil {
			panic(err)
		}
		fmt.Println("finished", key, "sweep done:", done)
	}
	s, err := cat.GetSweep(ctx, "sweep-1")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %+v\n", s.Status, s.Counts)
	// Output:
	// added index:1 true
	// added listing:42 true
	// added listing:42 false
	// finished index:1 sweep done: false
	// finished listing:42 sweep done: true
	// finished listing:42 sweep done: false
	// finished {Pages:1 Listings:1 Captures:0 Flags:0 Errors:0 Pending:0 New:0 Changed:0 Unchanged:0 Removed:0 Checked:0 Parked:0 Cancelled:0 ErrorsByKind:map[]}
}

// Applying a rule set stores a new version only when its source changed;
// activating a version deactivates whichever was active, of any name.
func ExampleCatalog_PutRuleSet() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wildwatch-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: "sqlite:" + filepath.Join(dir, "wildwatch.db")})
	if err != nil {
		panic(err)
	}
	defer cat.Close()

	for _, src := range []string{"name: default\nthreshold: 1\n", "name: default\nthreshold: 1\n", "name: default\nthreshold: 2\n"} {
		v, added, err := cat.PutRuleSet(ctx, "default", []byte(src), "ana", "")
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s@%d added: %v\n", v.Name, v.Version, added)
	}
	if _, _, err := cat.PutRuleSet(ctx, "field", []byte("name: field\nthreshold: 3\n"), "ben", "field trial"); err != nil {
		panic(err)
	}
	for _, ref := range []struct {
		name    string
		version int
	}{{"default", 2}, {"field", 1}} {
		if err := cat.ActivateRuleSet(ctx, ref.name, ref.version); err != nil {
			panic(err)
		}
	}
	vs, err := cat.ListRuleSets(ctx, "")
	if err != nil {
		panic(err)
	}
	for _, v := range vs {
		fmt.Printf("%s@%d active: %v\n", v.Name, v.Version, v.Active)
	}
	active, err := cat.ActiveRuleSet(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("active: %s@%d %q\n", active.Name, active.Version, active.Source)
	// Output:
	// default@1 added: true
	// default@1 added: false
	// default@2 added: true
	// field@1 active: true
	// default@2 active: false
	// default@1 active: false
	// active: field@1 "name: field\nthreshold: 3\n"
}
