package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/pgtest"
)

func TestCustodySQLite(t *testing.T) {
	t.Parallel()
	runCustodySuite(t, func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "data", "wildwatch.db")
	})
}

func TestCustodyPostgres(t *testing.T) {
	t.Parallel()
	runCustodySuite(t, func(t *testing.T) string { return pgtest.New(t) })
}

// runCustodySuite holds the custody log to one behaviour on SQLite and
// PostgreSQL, with evidence in a directory store.
func runCustodySuite(t *testing.T, newDSN func(t *testing.T) string) {
	s := catalogSuite{newDSN: newDSN}
	tests := []struct {
		name string
		fn   func(t *testing.T, s catalogSuite)
	}{
		{"AppendVerify", testCustodyAppendVerify},
		{"List", testCustodyList},
		{"Invalid", testCustodyInvalid},
		{"Tamper", testCustodyTamper},
		{"Repair", testCustodyRepair},
		{"SkipPlanted", testCustodySkipPlanted},
		{"Concurrent", testCustodyConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

// custodyFixture is a custody log on a fresh catalog and directory store.
type custodyFixture struct {
	dsn string
	cat *Catalog
	dir *Dir
	log *Custody
}

func newCustodyFixture(t *testing.T, s catalogSuite) *custodyFixture {
	t.Helper()
	dsn := s.newDSN(t)
	cat := openCatalogT(t, dsn)
	dir, err := NewDir(filepath.Join(t.TempDir(), "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	return &custodyFixture{dsn: dsn, cat: cat, dir: dir, log: &Custody{Catalog: cat, Store: dir, Logger: testLogger(t)}}
}

// custodyEvent is the i-th of a set of test events.
func custodyEvent(i int) CustodyEvent {
	actions := []string{ActionReadWARC, ActionReadManifest, ActionReadScreenshot, ActionReadDOM}
	return CustodyEvent{
		Actor:  fmt.Sprintf("user-%d", i%3),
		Role:   "investigator",
		Action: actions[i%len(actions)],
		Object: fmt.Sprintf("captures/s1/c%d/abc.warc.gz", i%2),
		Remote: fmt.Sprintf("192.0.2.%d:4000", i),
	}
}

// appendN appends events 0 … n-1 and returns the entries.
func (f *custodyFixture) appendN(t *testing.T, n int) []CustodyEntry {
	t.Helper()
	var es []CustodyEntry
	for i := range n {
		e, err := f.log.Append(t.Context(), custodyEvent(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		es = append(es, e)
	}
	return es
}

// verify runs Verify, failing the test on an error.
func (f *custodyFixture) verify(t *testing.T) CustodyReport {
	t.Helper()
	rep, err := f.log.Verify(t.Context())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

// objectPath is the file that holds custody entry seq.
func (f *custodyFixture) objectPath(seq int64) string {
	return f.dir.path(CustodyKey(seq))
}

// storedEntry reads the stored object of entry seq.
func (f *custodyFixture) storedEntry(t *testing.T, seq int64) (CustodyEntry, []byte) {
	t.Helper()
	e, data, err := f.log.readObject(t.Context(), CustodyKey(seq))
	if err != nil {
		t.Fatalf("reading custody object %d: %v", seq, err)
	}
	return e, data
}

func testCustodyAppendVerify(t *testing.T, s catalogSuite) {
	f := newCustodyFixture(t, s)
	rep := f.verify(t)
	if !rep.OK || rep.Entries != 0 || rep.Head != 0 || rep.HeadHash != CustodyGenesis {
		t.Fatalf("Verify of an empty log = %+v", rep)
	}

	es := f.appendN(t, 5)
	prev := CustodyGenesis
	for i, e := range es {
		ev := custodyEvent(i)
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.ComputeHash() || e.Hash == prev {
			t.Errorf("entry %d: seq %d, prev %s (want %s), hash %s (computed %s)", i, e.Seq, e.PrevHash, prev, e.Hash, e.ComputeHash())
		}
		if e.Actor != ev.Actor || e.Role != ev.Role || e.Action != ev.Action || e.Object != ev.Object || e.Remote != ev.Remote {
			t.Errorf("entry %d = %+v, recorded from %+v", i, e, ev)
		}
		if e.At.IsZero() || e.At.Location().String() != "UTC" {
			t.Errorf("entry %d at %v, want a UTC time", i, e.At)
		}
		got, data := f.storedEntry(t, e.Seq)
		catSame(t, fmt.Sprintf("stored entry %d", e.Seq), got, e)
		if !bytes.Equal(data, e.marshalObject()) {
			t.Errorf("stored entry %d = %s, want %s", e.Seq, data, e.marshalObject())
		}
		prev = e.Hash
	}
	rows, err := f.log.List(t.Context(), CustodyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "List", rows, es)

	rep = f.verify(t)
	if !rep.OK || rep.Entries != 5 || rep.Objects != 5 || rep.Head != 5 || rep.HeadHash != es[4].Hash || len(rep.Problems) != 0 {
		t.Fatalf("Verify = %+v", rep)
	}
	if rep.First() != nil {
		t.Errorf("First() = %v on a sound log", rep.First())
	}
}

// The hash covers every field: changing any one changes it.
func TestCustodyHashCoversEveryField(t *testing.T) {
	t.Parallel()
	base := CustodyEntry{Seq: 7, At: catTime, Actor: "a", Role: "r", Action: "x", Object: "o", Remote: "m", Link: "l", Detail: "d", PrevHash: CustodyGenesis}
	edits := map[string]func(*CustodyEntry){
		"seq":       func(e *CustodyEntry) { e.Seq++ },
		"at":        func(e *CustodyEntry) { e.At = e.At.Add(1000) },
		"actor":     func(e *CustodyEntry) { e.Actor += "!" },
		"role":      func(e *CustodyEntry) { e.Role += "!" },
		"action":    func(e *CustodyEntry) { e.Action += "!" },
		"object":    func(e *CustodyEntry) { e.Object += "!" },
		"remote":    func(e *CustodyEntry) { e.Remote += "!" },
		"link":      func(e *CustodyEntry) { e.Link += "!" },
		"detail":    func(e *CustodyEntry) { e.Detail += "!" },
		"prev_hash": func(e *CustodyEntry) { e.PrevHash = strings.Repeat("1", 64) },
		// Moving a byte from one field to the next keeps the
		// concatenation: the lengths in the encoding tell them apart.
		"boundary": func(e *CustodyEntry) { e.Actor, e.Role = "ar", "" },
	}
	want := base.ComputeHash()
	for name, edit := range edits {
		e := base
		edit(&e)
		if e.ComputeHash() == want {
			t.Errorf("editing %s keeps the hash", name)
		}
	}
	if base.ComputeHash() != want {
		t.Error("ComputeHash is not deterministic")
	}
}

func TestCustodyKey(t *testing.T) {
	t.Parallel()
	if got := CustodyKey(42); got != "custody/000000000042.json" {
		t.Errorf("CustodyKey(42) = %q", got)
	}
	for _, tc := range []struct {
		key string
		seq int64
		ok  bool
	}{
		{"custody/000000000042.json", 42, true},
		{"custody/42.json", 0, false},
		{"custody/000000000000.json", 0, false},
		{"custody/00000000004x.json", 0, false},
		{"custody/000000000042.json.bak", 0, false},
		{"captures/000000000042.json", 0, false},
	} {
		seq, ok := custodySeqOfKey(tc.key)
		if seq != tc.seq || ok != tc.ok {
			t.Errorf("custodySeqOfKey(%q) = %d, %v; want %d, %v", tc.key, seq, ok, tc.seq, tc.ok)
		}
	}
}

func testCustodyList(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	f := newCustodyFixture(t, s)
	es := f.appendN(t, 6)
	link, err := f.log.Append(ctx, CustodyEvent{Actor: "link", Role: CustodyRoleLink, Action: ActionLinkUse, Object: "captures/s1/c10/x.warc.gz", Link: "l1"})
	if err != nil {
		t.Fatal(err)
	}
	pick := func(seqs ...int) []CustodyEntry {
		out := []CustodyEntry{}
		for _, s := range seqs {
			out = append(out, es[s-1])
		}
		return out
	}
	tests := []struct {
		name string
		f    CustodyFilter
		want []CustodyEntry
	}{
		{"object", CustodyFilter{Object: "captures/s1/c1/abc.warc.gz"}, pick(2, 4, 6)},
		{"prefix", CustodyFilter{Prefix: "captures/s1/c1"}, append(pick(2, 4, 6), link)},
		{"prefix with LIKE wildcards", CustodyFilter{Prefix: "captures/s1/c_"}, []CustodyEntry{}},
		{"actor", CustodyFilter{Actor: "user-0"}, pick(1, 4)},
		{"action", CustodyFilter{Action: ActionReadManifest}, pick(2, 6)},
		{"link", CustodyFilter{Link: "l1"}, []CustodyEntry{link}},
		{"after and limit", CustodyFilter{After: 2, Limit: 2}, pick(3, 4)},
		{"newest", CustodyFilter{Newest: true, Limit: 3}, []CustodyEntry{link, es[5], es[4]}},
		{"nothing", CustodyFilter{Object: "nope"}, []CustodyEntry{}},
	}
	for _, tc := range tests {
		got, err := f.log.List(ctx, tc.f)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		catSame(t, "List "+tc.name, got, tc.want)
	}
	_, err = f.log.List(ctx, CustodyFilter{Limit: -1})
	catErr(t, "List with a negative limit", err, ErrInvalid)
}

func testCustodyInvalid(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	f := newCustodyFixture(t, s)
	for _, ev := range []CustodyEvent{
		{Role: "admin", Action: ActionReadWARC, Object: "k"},
		{Actor: "a", Action: ActionReadWARC, Object: "k"},
		{Actor: "a", Role: "admin", Object: "k"},
		{Actor: "a", Role: "admin", Action: ActionReadWARC},
		{Actor: "\x00", Role: "admin", Action: ActionReadWARC, Object: "k"}, // cleaned, not empty
	} {
		_, err := f.log.Append(ctx, ev)
		if ev.Actor == "\x00" {
			if err != nil {
				t.Errorf("Append(%+v) = %v, want the NUL replaced", ev, err)
			}
			continue
		}
		catErr(t, fmt.Sprintf("Append(%+v)", ev), err, ErrInvalid)
	}
	// Text that JSON or PostgreSQL could not keep is replaced, so the row
	// and the object agree.
	e, err := f.log.Append(ctx, CustodyEvent{Actor: "bad\xffutf8", Role: "admin", Action: ActionReadWARC, Object: "k\x00ey"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Actor != "bad\uFFFDutf8" || e.Object != "k\uFFFDey" {
		t.Errorf("cleaned entry = %+v", e)
	}
	if rep := f.verify(t); !rep.OK || rep.Entries != 2 {
		t.Errorf("Verify after cleaned entries = %+v", rep)
	}
	if _, err := (&Custody{}).Append(ctx, custodyEvent(0)); err == nil {
		t.Error("Append without catalog and store succeeded")
	}
}

// testCustodyConcurrent appends from several goroutines, each on its own
// catalog handle as separate processes would: one unbroken chain results.
func testCustodyConcurrent(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	f := newCustodyFixture(t, s)
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		cus := &Custody{Catalog: openCatalogT(t, f.dsn), Store: f.dir}
		wg.Go(func() {
			for i := range each {
				ev := custodyEvent(i)
				ev.Actor = fmt.Sprintf("writer-%d", w)
				if _, err := cus.Append(ctx, ev); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rep := f.verify(t)
	if !rep.OK || rep.Entries != writers*each || rep.Objects != writers*each || rep.Head != writers*each {
		t.Fatalf("Verify after concurrent appends = %+v", rep)
	}
	es, err := f.log.List(ctx, CustodyFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		per[e.Actor]++
	}
	for w := range writers {
		if n := per[fmt.Sprintf("writer-%d", w)]; n != each {
			t.Errorf("writer-%d has %d entries, want %d", w, n, each)
		}
	}
}

// The log works the same on S3, where objects cannot be replaced.
func TestCustodyS3(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cat := openCatalogT(t, "sqlite:"+filepath.Join(t.TempDir(), "c.db"))
	store := newTestS3(t, nil)
	log := &Custody{Catalog: cat, Store: store}
	for i := range 3 {
		if _, err := log.Append(ctx, custodyEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := log.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 3 || rep.Objects != 3 {
		t.Fatalf("Verify on S3 = %+v", rep)
	}
	// An entry's object cannot be overwritten.
	_, err = store.Put(ctx, CustodyKey(2), strings.NewReader("{}"), 2, ContentTypeManifest)
	if !errors.Is(err, wildwatch.ErrObjectExists) {
		t.Fatalf("overwriting a custody object on S3: %v", err)
	}
	rc, _, err := store.Get(ctx, CustodyKey(2))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(data), `"seq":2`) {
		t.Errorf("custody object 2 on S3 = %s", data)
	}
}
