package storage

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// readCountingStore counts the reads (Get and Stat) made of a store.
type readCountingStore struct {
	wildwatch.EvidenceStore
	gets, stats atomic.Int64
}

func (s *readCountingStore) Get(ctx context.Context, key string) (io.ReadCloser, wildwatch.ObjectInfo, error) {
	s.gets.Add(1)
	return s.EvidenceStore.Get(ctx, key)
}

func (s *readCountingStore) Stat(ctx context.Context, key string) (wildwatch.ObjectInfo, error) {
	s.stats.Add(1)
	return s.EvidenceStore.Stat(ctx, key)
}

// TestRecordFirstAttempt: a first attempt writes without reading the store;
// any other attempt looks for a stored manifest first.
func TestRecordFirstAttempt(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := &readCountingStore{EvidenceStore: st.new(t)}
			ev := &Evidence{Store: store, Signer: testSigner(t), Logger: testLogger(t)}
			ctx := context.Background()

			p := testWARCParams(testCapture("c1", []byte("<html>ivory</html>")))
			p.FirstAttempt = true
			if _, err := ev.Record(ctx, p); err != nil {
				t.Fatal(err)
			}
			if g, s := store.gets.Load(), store.stats.Load(); g != 0 || s != 0 {
				t.Errorf("first attempt: %d Gets and %d Stats, want none", g, s)
			}
			res, err := VerifyCapture(ctx, store, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
			if err != nil || !res.OK {
				t.Errorf("VerifyCapture = %+v, %v", res, err)
			}

			store.gets.Store(0)
			if _, err := ev.Record(ctx, testWARCParams(testCapture("c2", []byte("<html>ivory</html>")))); err != nil {
				t.Fatal(err)
			}
			if g := store.gets.Load(); g != 1 {
				t.Errorf("a later attempt made %d Gets, want 1 (of the manifest)", g)
			}
		})
	}
}

// TestRecordFirstAttemptManifestExists: a first attempt of a capture that
// was recorded after all (an attempt cut short and run again without being
// counted as a retry) returns the stored manifest and leaves it as it is.
func TestRecordFirstAttemptManifestExists(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := st.new(t)
			ev := &Evidence{Store: store, Signer: testSigner(t), Logger: testLogger(t)}
			ctx := context.Background()
			first, err := ev.Record(ctx, testWARCParams(testCapture("c1", []byte("body"))))
			if err != nil {
				t.Fatal(err)
			}

			p := testWARCParams(testCapture("c1", []byte("body")))
			p.FirstAttempt = true
			again, err := ev.Record(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if again.Signature.Value != first.Signature.Value || again.Objects[0] != first.Objects[0] {
				t.Errorf("Record returned %+v, want the stored manifest %+v", again, first)
			}
			stored, err := readManifest(ctx, store, ManifestKey("sweep-1", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			if stored.Signature.Value != first.Signature.Value {
				t.Error("the stored manifest changed")
			}
			// The second attempt's WARC stays, named by no manifest.
			objs, err := store.List(ctx, "captures/sweep-1/c1/")
			if err != nil || len(objs) != 2 || (objs[0].Key != first.Objects[0].Key && objs[1].Key != first.Objects[0].Key) {
				t.Errorf("objects: %+v, %v; want the manifest's WARC %s and an orphan", objs, err, first.Objects[0].Key)
			}
			res, err := VerifyCapture(ctx, store, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
			if err != nil || !res.OK {
				t.Errorf("VerifyCapture = %+v, %v", res, err)
			}
		})
	}
}

// TestRecordFirstAttemptConcurrent: first attempts of one capture racing
// each other all return the one manifest stored.
func TestRecordFirstAttemptConcurrent(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := &readCountingStore{EvidenceStore: st.new(t)}
			ev := &Evidence{Store: store, Signer: testSigner(t)}
			const n = 6
			ms := make([]*Manifest, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					p := testWARCParams(testCapture("c1", []byte("body")))
					p.FirstAttempt = true
					ms[i], errs[i] = ev.Record(context.Background(), p)
				})
			}
			wg.Wait()
			// Each loser reads the winner's manifest, once.
			if g := store.gets.Load(); g != n-1 {
				t.Errorf("%d Gets, want %d", g, n-1)
			}
			stored, err := readManifest(context.Background(), store, ManifestKey("sweep-1", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if errs[i] != nil {
					t.Errorf("Record %d: %v", i, errs[i])
					continue
				}
				if ms[i].Signature.Value != stored.Signature.Value {
					t.Errorf("Record %d returned a manifest that is not the stored one", i)
				}
			}
		})
	}
}
