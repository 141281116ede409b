package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wildwatch/wildwatch/storage"
)

// Every access to evidence is appended to the custody log; Verify walks the
// chain in the catalog and the entries kept in the store, and names the
// first entry where they disagree.
func ExampleCustody_Verify() {
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
	store, err := storage.NewDir(filepath.Join(dir, "evidence"))
	if err != nil {
		panic(err)
	}
	log := &storage.Custody{Catalog: cat, Store: store}

	for _, who := range []string{"ana", "ben", "ana"} {
		e, err := log.Append(ctx, storage.CustodyEvent{Actor: who, Role: "investigator", Action: storage.ActionReadWARC,
			Object: "captures/s1/c1/0123456789abcdef.warc.gz", Remote: "192.0.2.7:50000"})
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Actor, e.Action, storage.CustodyKey(e.Seq))
	}
	rep, err := log.Verify(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("ok:", rep.OK, "entries:", rep.Entries)

	// Someone removes entry 2's stored copy.
	if err := os.Remove(filepath.Join(store.Root(), "custody", "000000000002.json")); err != nil {
		panic(err)
	}
	rep, err = log.Verify(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("ok:", rep.OK, "first problem:", rep.First().Seq, rep.First().Kind)
	// Output:
	// 1 ana read-warc custody/000000000001.json
	// 2 ben read-warc custody/000000000002.json
	// 3 ana read-warc custody/000000000003.json
	// ok: true entries: 3
	// ok: false first problem: 2 object-missing
}
