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
	// finished {Pages:1 Listings:1 Captures:0 Flags:0 Errors:0 Pending:0}
}
