package storage

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// testCustodyTamper changes the log in each way a person with access to the
// database or the store could, and checks that Verify names the entry and
// the kind of change first.
func testCustodyTamper(t *testing.T, s catalogSuite) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, f *custodyFixture, es []CustodyEntry)
		// want is the first problem (seq and kind); also lists further
		// expected problems, and no others may appear.
		want []CustodyProblem
		// detail holds text the first problem's detail must contain.
		detail []string
	}{
		{
			name: "row edited",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				f.exec(t, `UPDATE custody_log SET actor = 'someone-else' WHERE seq = 3`)
			},
			want:   []CustodyProblem{{Seq: 3, Kind: CustodyHashMismatch}, {Seq: 3, Kind: CustodyObjectDiffers}},
			detail: []string{es3Hash},
		},
		{
			name: "row edited and re-hashed",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				e := es[2]
				e.Actor = "someone-else"
				e.Hash = e.ComputeHash()
				f.exec(t, `UPDATE custody_log SET actor = $1, hash = $2 WHERE seq = 3`, e.Actor, e.Hash)
			},
			want:   []CustodyProblem{{Seq: 3, Kind: CustodyObjectDiffers}, {Seq: 4, Kind: CustodyBrokenLink}},
			detail: []string{"actor, hash"},
		},
		{
			name: "row deleted",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				f.exec(t, `DELETE FROM custody_log WHERE seq = 3`)
			},
			want:   []CustodyProblem{{Seq: 3, Kind: CustodyRowMissing}},
			detail: []string{CustodyKey(3), "catalog row is missing"},
		},
		{
			name: "last row deleted",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				f.exec(t, `DELETE FROM custody_log WHERE seq = 5`)
			},
			want:   []CustodyProblem{{Seq: 5, Kind: CustodyRowMissing}},
			detail: []string{CustodyKey(5), "last row is entry 4"},
		},
		{
			name: "stored object edited",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				path := f.objectPath(3)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				data = bytes.Replace(data, []byte(`"actor":"user-2"`), []byte(`"actor":"user-9"`), 1)
				f.rewrite(t, path, data)
			},
			want:   []CustodyProblem{{Seq: 3, Kind: CustodyObjectDiffers}},
			detail: []string{"in actor;", "does not match its own hash"},
		},
		{
			name: "stored object deleted",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				if err := os.Remove(f.objectPath(3)); err != nil {
					t.Fatal(err)
				}
			},
			want:   []CustodyProblem{{Seq: 3, Kind: CustodyObjectMissing}},
			detail: []string{CustodyKey(3)},
		},
		{
			name: "stored object replaced with garbage",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				f.rewrite(t, f.objectPath(2), []byte("not json"))
			},
			want:   []CustodyProblem{{Seq: 2, Kind: CustodyObjectDiffers}},
			detail: []string{"is not a custody entry"},
		},
		{
			name: "row and object deleted",
			tamper: func(t *testing.T, f *custodyFixture, es []CustodyEntry) {
				f.exec(t, `DELETE FROM custody_log WHERE seq = 2 OR seq = 3`)
				for _, seq := range []int64{2, 3} {
					if err := os.Remove(f.objectPath(seq)); err != nil {
						t.Fatal(err)
					}
				}
			},
			want:   []CustodyProblem{{Seq: 2, Kind: CustodyGap}},
			detail: []string{"entries 2 to 3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newCustodyFixture(t, s)
			es := f.appendN(t, 5)
			tc.tamper(t, f, es)
			rep := f.verify(t)
			if rep.OK {
				t.Fatalf("Verify after %s = OK: %+v", tc.name, rep)
			}
			var got []CustodyProblem
			for _, p := range rep.Problems {
				got = append(got, CustodyProblem{Seq: p.Seq, Kind: p.Kind})
			}
			catSame(t, "problems (seq, kind)", got, tc.want)
			first := rep.First()
			for _, d := range tc.detail {
				if d == es3Hash {
					d = es[2].Hash
				}
				if !strings.Contains(first.Detail, d) {
					t.Errorf("first problem %q does not mention %q", first, d)
				}
			}
		})
	}
}

// es3Hash in a tamper test's detail stands for the hash entry 3 was
// written with.
const es3Hash = "<hash of entry 3>"

// exec runs SQL on the fixture's catalog, as someone with database access.
func (f *custodyFixture) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	res, err := f.cat.db.ExecContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s changed no rows", query)
	}
}

// rewrite replaces a read-only evidence file's content.
func (f *custodyFixture) rewrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o444); err != nil {
		t.Fatal(err)
	}
}

// testCustodyRepair stores an entry's object without its row, as an append
// whose commit failed leaves it: the next append restores the row, records
// the repair, and the log verifies.
func testCustodyRepair(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	f := newCustodyFixture(t, s)
	es := f.appendN(t, 3)
	orphan := CustodyEntry{Seq: 4, At: catTime, Actor: "user-x", Role: "admin", Action: ActionReadDOM, Object: "captures/s1/c1/d.html", PrevHash: es[2].Hash}
	orphan.Hash = orphan.ComputeHash()
	f.putObject(t, CustodyKey(4), orphan.marshalObject())

	rep := f.verify(t)
	if first := rep.First(); first == nil || first.Seq != 4 || first.Kind != CustodyRowMissing {
		t.Fatalf("Verify with an orphaned object: first problem %v, want entry 4 row-missing", first)
	}

	e, err := f.log.Append(ctx, custodyEvent(9))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 6 {
		t.Errorf("appended entry has seq %d, want 6 (4 restored, 5 the repair note)", e.Seq)
	}
	all, err := f.log.List(ctx, CustodyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 {
		t.Fatalf("log has %d entries, want 6: %+v", len(all), all)
	}
	catSame(t, "restored entry", all[3], orphan)
	note := all[4]
	if note.Action != ActionRepair || note.Object != CustodyKey(4) || note.Role != CustodyRoleSystem || note.PrevHash != orphan.Hash {
		t.Errorf("repair note = %+v", note)
	}
	if rep := f.verify(t); !rep.OK || rep.Entries != 6 {
		t.Errorf("Verify after the repair = %+v", rep)
	}
}

// testCustodySkipPlanted puts an object that does not continue the chain
// where the next entry goes: appends go on past it, and Verify keeps
// reporting it.
func testCustodySkipPlanted(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	f := newCustodyFixture(t, s)
	es := f.appendN(t, 2)
	planted := CustodyEntry{Seq: 3, At: catTime, Actor: "mallory", Role: "admin", Action: ActionReadWARC, Object: "k", PrevHash: strings.Repeat("f", 64)}
	planted.Hash = planted.ComputeHash()
	f.putObject(t, CustodyKey(3), planted.marshalObject())

	e, err := f.log.Append(ctx, custodyEvent(5))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 5 {
		t.Errorf("appended entry has seq %d, want 5 (3 skipped, 4 the note)", e.Seq)
	}
	note, err := f.log.List(ctx, CustodyFilter{Action: ActionRepair})
	if err != nil {
		t.Fatal(err)
	}
	if len(note) != 1 || note[0].Seq != 4 || note[0].PrevHash != es[1].Hash || !strings.Contains(note[0].Detail, "seq 3 skipped") {
		t.Errorf("skip note = %+v", note)
	}
	rep := f.verify(t)
	var got []CustodyProblem
	for _, p := range rep.Problems {
		got = append(got, CustodyProblem{Seq: p.Seq, Kind: p.Kind})
	}
	catSame(t, "problems after a skip", got, []CustodyProblem{{Seq: 3, Kind: CustodyRowMissing}})
	if first := rep.First(); first == nil || !strings.Contains(first.Detail, "does not follow entry 2") {
		t.Errorf("first problem %v does not say the object does not follow entry 2", first)
	}
}

// putObject stores data under key in the fixture's store.
func (f *custodyFixture) putObject(t *testing.T, key string, data []byte) {
	t.Helper()
	if _, err := f.dir.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), ContentTypeManifest); err != nil {
		t.Fatal(err)
	}
}
