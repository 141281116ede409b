package storage

import (
	"reflect"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// testCatalogLookupListing holds LookupListing to what GateTask,
// GetCapture, GetListing and PreviousCapture say one at a time.
func testCatalogLookupListing(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catSweep(t, c, "s2", "market", time.Hour)
	catSweep(t, c, "o1", "other", 0)
	const key = "listing:a"
	url := catCapture("", "a", catTime).Capture.URL
	catAddTask(t, c, SweepTask{SweepID: "s2", Key: key, Kind: wildwatch.PageListing, URL: url})

	_, err := c.LookupListing(ctx, "s2", "nope", "u", "new")
	catErr(t, "LookupListing(unknown task)", err, ErrNotFound)
	_, err = c.LookupListing(ctx, "nope", key, "u", "new")
	catErr(t, "LookupListing(unknown sweep)", err, ErrNotFound)

	rec := func(sweep, id string, at time.Duration) CaptureRecord {
		r := catCapture(sweep, id, catTime.Add(at))
		if sweep == "o1" {
			r.Capture.Target = "other"
		}
		return r
	}
	// check compares a lookup with the answers of the methods it stands for.
	check := func(what, captureID string, wantCaptured bool) ListingLookup {
		t.Helper()
		lk, err := c.LookupListing(ctx, "s2", key, url, captureID)
		if err != nil {
			t.Fatalf("%s: LookupListing: %v", what, err)
		}
		g, err := c.GateTask(ctx, "s2", key)
		if err != nil {
			t.Fatal(err)
		}
		if lk.Gate != g {
			t.Errorf("%s: gate %+v, GateTask says %+v", what, lk.Gate, g)
		}
		if lk.Captured != wantCaptured {
			t.Errorf("%s: captured = %v, want %v", what, lk.Captured, wantCaptured)
		}
		l, err := c.GetListing(ctx, "market", url)
		switch {
		case err != nil && lk.Listing != nil:
			t.Errorf("%s: listing %+v, GetListing says %v", what, *lk.Listing, err)
		case err == nil && (lk.Listing == nil || !reflect.DeepEqual(*lk.Listing, l)):
			t.Errorf("%s: listing %v, GetListing says %+v", what, lk.Listing, l)
		}
		prev, err := c.PreviousCapture(ctx, "market", url, captureID)
		switch {
		case err != nil && lk.Previous != nil:
			t.Errorf("%s: previous %s, PreviousCapture says %v", what, lk.Previous.Capture.ID, err)
		case err == nil && (lk.Previous == nil || !reflect.DeepEqual(*lk.Previous, prev)):
			t.Errorf("%s: previous %v, PreviousCapture says %s", what, lk.Previous, prev.Capture.ID)
		}
		return lk
	}

	lk := check("empty catalog", "new", false)
	if lk.Gate != (TaskGate{SweepStatus: wildwatch.SweepQueued, TaskState: TaskPending}) || lk.Listing != nil || lk.Previous != nil {
		t.Errorf("empty catalog: lookup %+v", lk)
	}

	// The same URL captured by another target is not this listing.
	for _, r := range []CaptureRecord{rec("o1", "a", 3*time.Hour), rec("s1", "old", 0), rec("s1", "mid", time.Hour)} {
		r.Capture.URL = url
		if _, err := c.PutCapture(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if lk := check("earlier captures", "new", false); lk.Previous == nil || lk.Previous.Capture.ID != "mid" || lk.Listing == nil || lk.Listing.Captures != 2 {
		t.Errorf("earlier captures: lookup %+v, want the capture before mid and 2 captures", lk)
	}

	r := rec("s2", "new", 2*time.Hour)
	r.Capture.URL = url
	if _, err := c.PutCapture(ctx, r); err != nil {
		t.Fatal(err)
	}
	if lk := check("captured", "new", true); lk.Previous == nil || lk.Previous.Capture.ID != "mid" {
		t.Errorf("captured: previous %v, want mid (the capture itself left out)", lk.Previous)
	}
	if _, err := c.FinishTask(ctx, "s2", key, false); err != nil {
		t.Fatal(err)
	}
	check("finished", "new", true)
}

// testCatalogFinishOutcome checks what FinishTaskOutcome reports and how it
// ends a sweep, failed with its reason or finished.
func testCatalogFinishOutcome(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	finish := func(sweep, key string, failed bool) TaskOutcome {
		t.Helper()
		o, err := c.FinishTaskOutcome(ctx, sweep, key, failed)
		if err != nil {
			t.Fatalf("FinishTaskOutcome(%s, %s): %v", sweep, key, err)
		}
		return o
	}
	cases := []struct {
		name       string
		tasks      []string // kinds; each task fails when its kind is listed in fail
		fail       map[string]bool
		wantStatus string
		wantReason string
	}{
		{"finished", []string{wildwatch.PageIndex, wildwatch.PageListing}, nil, wildwatch.SweepFinished, ""},
		{"index failed", []string{wildwatch.PageIndex, wildwatch.PageIndex}, map[string]bool{wildwatch.PageIndex: true},
			wildwatch.SweepFailed, "every index page failed (2)"},
		{"listings failed", []string{wildwatch.PageIndex, wildwatch.PageListing, wildwatch.PageListing, wildwatch.PageListing},
			map[string]bool{wildwatch.PageListing: true}, wildwatch.SweepFailed, "every listing failed (3)"},
		{"start only", []string{"start"}, map[string]bool{"start": true}, wildwatch.SweepFinished, ""},
	}
	for i, tc := range cases {
		id := "s" + string(rune('a'+i))
		catSweep(t, c, id, "market", time.Duration(i)*time.Second)
		for j, kind := range tc.tasks {
			catAddTask(t, c, SweepTask{SweepID: id, Key: catTaskKey(kind, j), Kind: kind})
		}
		for j, kind := range tc.tasks {
			o := finish(id, catTaskKey(kind, j), tc.fail[kind])
			last := j == len(tc.tasks)-1
			if o.SweepEnded != last || o.Settled {
				t.Errorf("%s: task %d: outcome %+v, want ended %v, not settled", tc.name, j, o, last)
			}
			if last && o.Status != tc.wantStatus {
				t.Errorf("%s: status %q, want %q", tc.name, o.Status, tc.wantStatus)
			}
			if !last && o.Status != wildwatch.SweepQueued {
				t.Errorf("%s: task %d: status %q, want the sweep still queued", tc.name, j, o.Status)
			}
		}
		sw, err := c.GetSweep(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sw.Status != tc.wantStatus || sw.Reason != tc.wantReason || sw.FinishedAt == nil {
			t.Errorf("%s: sweep %s (%q), finished at %v; want %s (%q)", tc.name, sw.Status, sw.Reason, sw.FinishedAt, tc.wantStatus, tc.wantReason)
		}
		// Finishing again changes nothing and says it was settled.
		if o := finish(id, catTaskKey(tc.tasks[0], 0), false); !o.Settled || o.SweepEnded || o.Status != tc.wantStatus {
			t.Errorf("%s: finishing again: outcome %+v", tc.name, o)
		}
	}

	// A finish of an unknown task changes nothing of its sweep: the run of
	// block pages goes on.
	catSweep(t, c, "blocked", "market", time.Minute)
	catAddTask(t, c, SweepTask{SweepID: "blocked", Key: "k", Kind: wildwatch.PageListing})
	if _, err := c.RecordBlocked(ctx, "blocked"); err != nil {
		t.Fatal(err)
	}
	_, err := c.FinishTaskOutcome(ctx, "blocked", "nope", false)
	catErr(t, "FinishTaskOutcome(unknown task)", err, ErrNotFound)
	if n, err := c.RecordBlocked(ctx, "blocked"); err != nil || n != 2 {
		t.Errorf("block pages in a row after finishing an unknown task = %d, %v; want 2", n, err)
	}
	if o := finish("blocked", "k", false); !o.SweepEnded {
		t.Errorf("finishing the last task: outcome %+v", o)
	}
	if n, err := c.RecordBlocked(ctx, "blocked"); err != nil || n != 1 {
		t.Errorf("block pages in a row after a task done = %d, %v; want 1", n, err)
	}
}

// testCatalogPutCaptureFinish checks that PutCaptureFinish stores a new
// capture, raises its flag and finishes its task as one, does none of it
// for a capture stored already or a task that is unknown, and raises no
// flag for content flagged before.
func testCatalogPutCaptureFinish(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	for _, k := range []string{"a", "b", "c"} {
		catAddTask(t, c, SweepTask{SweepID: "s1", Key: k, Kind: wildwatch.PageListing})
	}
	ra, rb := catCapture("s1", "ca", catTime), catCapture("s1", "cb", catTime.Add(time.Minute))
	ra.ContentDigest, rb.ContentDigest = "sha256:aa", "sha256:bb"
	state := func(key string) string {
		t.Helper()
		task, err := c.GetTask(ctx, "s1", key)
		if err != nil {
			t.Fatal(err)
		}
		return task.State
	}
	flag := func(r CaptureRecord) *wildwatch.Flag {
		f := catFlag(r, catTime)
		return &f
	}

	res, err := c.PutCaptureFinish(ctx, ra, "a", flag(ra))
	if err != nil || !res.Added || res.Outcome.SweepEnded || res.Outcome.Settled || res.Flag == nil {
		t.Fatalf("PutCaptureFinish(a) = %+v, %v; want added with a flag, not ended", res, err)
	}
	if got, err := c.GetCapture(ctx, "ca"); err != nil || got.Listing.Title != ra.Listing.Title {
		t.Errorf("capture after PutCaptureFinish: %+v, %v", got.Listing, err)
	}
	if l, err := c.GetListing(ctx, "market", ra.Capture.URL); err != nil || l.Captures != 1 || l.LastCapture != "ca" {
		t.Errorf("listing after PutCaptureFinish: %+v, %v", l, err)
	}
	if got, err := c.GetFlag(ctx, res.Flag.ID); err != nil || got.CaptureID != "ca" || got.Category != ra.Verdict.Category || got.Status != wildwatch.FlagNew {
		t.Errorf("flag after PutCaptureFinish: %+v, %v", got, err)
	}
	if st := state("a"); st != TaskDone {
		t.Errorf("task a is %s, want done", st)
	}

	// Stored already: the other task stays pending.
	if res, err := c.PutCaptureFinish(ctx, ra, "b", flag(ra)); err != nil || res != (CaptureFinish{}) {
		t.Errorf("PutCaptureFinish(stored capture) = %+v, %v; want nothing done", res, err)
	}
	if st := state("b"); st != TaskPending {
		t.Errorf("task b is %s after a capture stored already, want pending", st)
	}

	// An unknown task: neither the capture nor its flag is kept.
	_, err = c.PutCaptureFinish(ctx, rb, "nope", flag(rb))
	catErr(t, "PutCaptureFinish(unknown task)", err, ErrNotFound)
	_, err = c.GetCapture(ctx, "cb")
	catErr(t, "capture of a PutCaptureFinish that failed", err, ErrNotFound)
	_, err = c.GetListing(ctx, "market", rb.Capture.URL)
	catErr(t, "listing of a PutCaptureFinish that failed", err, ErrNotFound)
	if fs, err := c.ListFlags(ctx, FlagFilter{}); err != nil || len(fs) != 1 {
		t.Errorf("flags after a PutCaptureFinish that failed: %d, %v; want 1", len(fs), err)
	}
	_, err = c.PutCaptureFinish(ctx, catCapture("nope", "cn", catTime), "a", nil)
	catErr(t, "PutCaptureFinish(unknown sweep)", err, ErrNotFound)

	// The same content of the listing again: no second flag.
	again := catCapture("s1", "ca2", catTime.Add(time.Hour))
	again.Capture.URL, again.ContentDigest = ra.Capture.URL, ra.ContentDigest
	if res, err := c.PutCaptureFinish(ctx, again, "b", flag(again)); err != nil || !res.Added || res.Flag != nil {
		t.Errorf("PutCaptureFinish(content flagged before) = %+v, %v; want added, no flag", res, err)
	}

	res, err = c.PutCaptureFinish(ctx, rb, "c", nil)
	if err != nil || !res.Added || res.Flag != nil || !res.Outcome.SweepEnded || res.Outcome.Status != wildwatch.SweepFinished {
		t.Fatalf("PutCaptureFinish(last task) = %+v, %v; want added, no flag, sweep finished", res, err)
	}
	if fs, err := c.ListFlags(ctx, FlagFilter{}); err != nil || len(fs) != 1 {
		t.Errorf("flags at the end: %d, %v; want 1", len(fs), err)
	}
}

// testCatalogAddTasks checks that AddTasks adds what AddTask would, and
// none of the tasks when one of them fails.
func testCatalogAddTasks(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catAddTask(t, c, SweepTask{SweepID: "s1", Key: "b", Kind: wildwatch.PageListing, URL: "u-b"})
	ts := []SweepTask{
		{SweepID: "s1", Key: "a", Kind: wildwatch.PageListing, URL: "u-a", Page: 2},
		{SweepID: "s1", Key: "b", Kind: wildwatch.PageListing, URL: "other"},
		{SweepID: "s1", Key: "c", Kind: wildwatch.PageIndex, URL: "u-c", Page: 3},
	}
	added, err := c.AddTasks(ctx, ts)
	if err != nil || !reflect.DeepEqual(added, []bool{true, false, true}) {
		t.Fatalf("AddTasks = %v, %v; want [true false true]", added, err)
	}
	for _, want := range []SweepTask{
		{SweepID: "s1", Key: "a", Kind: wildwatch.PageListing, URL: "u-a", Page: 2, State: TaskPending},
		{SweepID: "s1", Key: "b", Kind: wildwatch.PageListing, URL: "u-b", State: TaskPending},
		{SweepID: "s1", Key: "c", Kind: wildwatch.PageIndex, URL: "u-c", Page: 3, State: TaskPending},
	} {
		if got, err := c.GetTask(ctx, "s1", want.Key); err != nil || got != want {
			t.Errorf("GetTask(%s) = %+v, %v; want %+v", want.Key, got, err, want)
		}
	}
	if added, err := c.AddTasks(ctx, nil); err != nil || len(added) != 0 {
		t.Errorf("AddTasks(none) = %v, %v", added, err)
	}

	_, err = c.AddTasks(ctx, []SweepTask{{SweepID: "s1", Key: "d", Kind: wildwatch.PageListing}, {SweepID: "s1", Key: "e"}})
	catErr(t, "AddTasks(task without kind)", err, ErrInvalid)
	_, err = c.AddTasks(ctx, []SweepTask{{SweepID: "s1", Key: "d", Kind: wildwatch.PageListing}, {SweepID: "nope", Key: "e", Kind: wildwatch.PageListing}})
	catErr(t, "AddTasks(unknown sweep)", err, ErrNotFound)
	_, err = c.GetTask(ctx, "s1", "d")
	catErr(t, "task of an AddTasks that failed", err, ErrNotFound)
}
