package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/pgtest"
)

func TestCatalogLifecycleSQLite(t *testing.T) {
	t.Parallel()
	runLifecycleSuite(t, func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "wildwatch.db")
	})
}

func TestCatalogLifecyclePostgres(t *testing.T) {
	t.Parallel()
	runLifecycleSuite(t, func(t *testing.T) string { return pgtest.New(t) })
}

func runLifecycleSuite(t *testing.T, newDSN func(t *testing.T) string) {
	s := catalogSuite{newDSN: newDSN}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s catalogSuite)
	}{
		{"UpgradeStatuses", testCatalogUpgradeStatuses},
		{"PauseResume", testCatalogPauseResume},
		{"ResumeEmpty", testCatalogResumeEmpty},
		{"Cancel", testCatalogCancel},
		{"FailedSweep", testCatalogFailedSweep},
		{"ParkRace", testCatalogParkRace},
		{"Blocked", testCatalogBlocked},
		{"CreateIfIdle", testCatalogCreateIfIdle},
		{"Checks", testCatalogChecks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

// testCatalogUpgradeStatuses migrates a catalog of version 5 holding
// sweeps and tasks: they keep their statuses and states, and the new ones
// are accepted afterwards while unknown ones are still refused.
func testCatalogUpgradeStatuses(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	old, err := openCatalogDB(ctx, CatalogConfig{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.migrateTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	catSweep(t, old, "s-old", "market", 0)
	catAddTask(t, old, SweepTask{SweepID: "s-old", Key: "a", Kind: wildwatch.PageListing})
	catAddTask(t, old, SweepTask{SweepID: "s-old", Key: "b", Kind: wildwatch.PageListing})
	if err := old.SetSweepStatus(ctx, "s-old", wildwatch.SweepRunning); err != nil {
		t.Fatal(err)
	}
	if _, err := old.PutCapture(ctx, catCapture("s-old", "c-old", catTime)); err != nil {
		t.Fatal(err)
	}
	if _, err := old.db.ExecContext(ctx, `UPDATE sweeps SET status = 'paused' WHERE id = 's-old'`); err == nil {
		t.Fatal("version 5 accepted status paused")
	}

	c := openCatalogT(t, dsn)
	sw, err := c.GetSweep(ctx, "s-old")
	if err != nil {
		t.Fatal(err)
	}
	if sw.Status != wildwatch.SweepRunning || sw.Counts.Pending != 2 || sw.Counts.Captures != 1 || sw.Reason != "" {
		t.Errorf("sweep after migrating = %+v", sw)
	}
	if _, err := c.GetCapture(ctx, "c-old"); err != nil {
		t.Errorf("capture after migrating: %v", err)
	}
	if err := c.PauseSweep(ctx, "s-old", "by hand"); err != nil {
		t.Fatal(err)
	}
	if parked, err := c.ParkTask(ctx, "s-old", "a"); err != nil || !parked {
		t.Fatalf("ParkTask = %v, %v", parked, err)
	}
	if err := c.CancelSweep(ctx, "s-old", "enough"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE sweeps SET status = 'stopped' WHERE id = 's-old'`,
		`UPDATE sweep_tasks SET state = 'skipped' WHERE sweep_id = 's-old'`,
	} {
		if _, err := c.db.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
	// The handle opened before the migration, as another process would
	// have, sees the new constraints.
	catSweep(t, old, "s-new", "market", time.Second)
	if err := old.PauseSweep(ctx, "s-new", "x"); err != nil {
		t.Errorf("pausing through a handle opened before the migration: %v", err)
	}
}

func testCatalogPauseResume(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catAddTask(t, c, SweepTask{SweepID: "s1", Key: "start", Kind: "start"})
	if st, err := c.StartRunning(ctx, "s1"); err != nil || st != wildwatch.SweepRunning {
		t.Fatalf("StartRunning = %q, %v", st, err)
	}
	for i := range 4 {
		catAddTask(t, c, SweepTask{SweepID: "s1", Key: catTaskKey("listing", i), Kind: wildwatch.PageListing, URL: fmt.Sprint(i)})
	}
	catFinish(t, c, "s1", "start", false)
	catFinish(t, c, "s1", catTaskKey("listing", 0), false)

	// Parking is refused while the sweep runs.
	if parked, err := c.ParkTask(ctx, "s1", catTaskKey("listing", 1)); err != nil || parked {
		t.Fatalf("ParkTask(running sweep) = %v, %v", parked, err)
	}
	if err := c.PauseSweep(ctx, "s1", "paused by alice"); err != nil {
		t.Fatal(err)
	}
	catErr(t, "PauseSweep(paused)", c.PauseSweep(ctx, "s1", "again"), ErrSweepStatus)
	for _, i := range []int{1, 2} {
		if parked, err := c.ParkTask(ctx, "s1", catTaskKey("listing", i)); err != nil || !parked {
			t.Fatalf("ParkTask(listing %d) = %v, %v", i, parked, err)
		}
	}
	// A task finished while paused (it was running) does not end the sweep.
	if catFinish(t, c, "s1", catTaskKey("listing", 3), false) {
		t.Error("a paused sweep ended")
	}
	g, err := c.GateTask(ctx, "s1", catTaskKey("listing", 1))
	if err != nil || g != (TaskGate{SweepStatus: wildwatch.SweepPaused, TaskState: TaskParked}) {
		t.Errorf("GateTask = %+v, %v", g, err)
	}
	sw, err := c.GetSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if sw.Status != wildwatch.SweepPaused || sw.Reason != "paused by alice" || sw.Counts.Parked != 2 || sw.Counts.Pending != 0 || sw.FinishedAt != nil {
		t.Errorf("paused sweep = %+v", sw)
	}

	r, err := c.ResumeSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != wildwatch.SweepRunning || r.Seq != 1 || len(r.Tasks) != 2 || r.Tasks[0].Key != catTaskKey("listing", 1) || r.Tasks[1].URL != "2" {
		t.Errorf("ResumeSweep = %+v", r)
	}
	sw, _ = c.GetSweep(ctx, "s1")
	if sw.Status != wildwatch.SweepRunning || sw.Reason != "" || sw.Counts.Parked != 0 || sw.Counts.Pending != 2 {
		t.Errorf("resumed sweep = %+v", sw)
	}
	// Resuming again (a resume cut short) hands the same tasks back under
	// the same Seq.
	again, err := c.ResumeSweep(ctx, "s1")
	if err != nil || again.Seq != 1 || !reflect.DeepEqual(again.Tasks, r.Tasks) {
		t.Errorf("ResumeSweep(running) = %+v, %v", again, err)
	}
	// A parked task queued twice unparks once the sweep runs.
	if err := c.PauseSweep(ctx, "s1", ""); err != nil {
		t.Fatal(err)
	}
	if parked, _ := c.ParkTask(ctx, "s1", catTaskKey("listing", 1)); !parked {
		t.Fatal("not parked")
	}
	if err := c.UnparkTask(ctx, "s1", catTaskKey("listing", 1)); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.GateTask(ctx, "s1", catTaskKey("listing", 1)); g.TaskState != TaskParked {
		t.Errorf("unparked in a paused sweep: %+v", g)
	}
	if r, err = c.ResumeSweep(ctx, "s1"); err != nil || r.Seq != 2 {
		t.Fatalf("second ResumeSweep = %+v, %v", r, err)
	}
	catFinish(t, c, "s1", catTaskKey("listing", 1), false)
	if !catFinish(t, c, "s1", catTaskKey("listing", 2), false) {
		t.Error("last task after resuming did not end the sweep")
	}
	sw, _ = c.GetSweep(ctx, "s1")
	if sw.Status != wildwatch.SweepFinished || sw.FinishedAt == nil {
		t.Errorf("sweep = %+v", sw)
	}
	_, err = c.ResumeSweep(ctx, "s1")
	catErr(t, "ResumeSweep(finished)", err, ErrSweepStatus)
	catErr(t, "PauseSweep(finished)", c.PauseSweep(ctx, "s1", ""), ErrSweepStatus)
	catErr(t, "PauseSweep(unknown)", c.PauseSweep(ctx, "nope", ""), ErrNotFound)

	catSweep(t, c, "s2", "market", time.Second)
	_, err = c.ResumeSweep(ctx, "s2")
	catErr(t, "ResumeSweep(queued)", err, ErrSweepStatus)
	if err := c.SetSweepStatus(ctx, "s2", wildwatch.SweepRunning); err != nil {
		t.Fatal(err)
	}
	_, err = c.ResumeSweep(ctx, "s2")
	catErr(t, "ResumeSweep(running, never paused)", err, ErrSweepStatus)
	// A sweep paused before its start task ran stays paused.
	catSweep(t, c, "s3", "market", 2*time.Second)
	if err := c.PauseSweep(ctx, "s3", ""); err != nil {
		t.Fatal(err)
	}
	if st, err := c.StartRunning(ctx, "s3"); err != nil || st != wildwatch.SweepPaused {
		t.Errorf("StartRunning(paused) = %q, %v", st, err)
	}
}

// testCatalogResumeEmpty: a sweep whose last tasks finished while it was
// paused ends when resumed.
func testCatalogResumeEmpty(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	for i, id := range []string{"ok", "bad"} {
		catSweep(t, c, id, "market", time.Duration(i)*time.Second)
		catAddTask(t, c, SweepTask{SweepID: id, Key: "i", Kind: wildwatch.PageIndex})
		if _, err := c.StartRunning(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := c.PauseSweep(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		catFinish(t, c, id, "i", id == "bad")
	}
	for id, want := range map[string]string{"ok": wildwatch.SweepFinished, "bad": wildwatch.SweepFailed} {
		r, err := c.ResumeSweep(ctx, id)
		if err != nil || r.Status != want || len(r.Tasks) != 0 {
			t.Errorf("ResumeSweep(%s) = %+v, %v; want %s, no tasks", id, r, err, want)
		}
		sw, _ := c.GetSweep(ctx, id)
		if sw.Status != want || sw.FinishedAt == nil {
			t.Errorf("sweep %s = %+v", id, sw)
		}
	}
}

func testCatalogCancel(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	for i := range 3 {
		catAddTask(t, c, SweepTask{SweepID: "s1", Key: catTaskKey("listing", i), Kind: wildwatch.PageListing})
	}
	if _, err := c.StartRunning(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	catFinish(t, c, "s1", catTaskKey("listing", 0), false)
	if err := c.PauseSweep(ctx, "s1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ParkTask(ctx, "s1", catTaskKey("listing", 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.CancelSweep(ctx, "s1", "cancelled by bob"); err != nil {
		t.Fatal(err)
	}
	sw, err := c.GetSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := wildwatch.SweepCounts{Listings: 3, Cancelled: 2}
	if sw.Status != wildwatch.SweepCancelled || sw.Reason != "cancelled by bob" || sw.FinishedAt == nil || !reflect.DeepEqual(sw.Counts, want) {
		t.Errorf("cancelled sweep = %+v; want counts %+v", sw, want)
	}
	// A task still running when the sweep was cancelled finishes quietly.
	o, err := c.FinishTaskOutcome(ctx, "s1", catTaskKey("listing", 2), false)
	if err != nil || o.SweepEnded || !o.Settled || o.Status != wildwatch.SweepCancelled {
		t.Errorf("FinishTaskOutcome(cancelled task) = %+v, %v", o, err)
	}
	catErr(t, "CancelSweep(cancelled)", c.CancelSweep(ctx, "s1", ""), ErrSweepStatus)
	catErr(t, "CancelSweep(unknown)", c.CancelSweep(ctx, "nope", ""), ErrNotFound)

	// A task added to an ended sweep is cancelled by the worker that
	// picks it up.
	catAddTask(t, c, SweepTask{SweepID: "s1", Key: "late", Kind: wildwatch.PageListing})
	if err := c.CancelTask(ctx, "s1", "late"); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.GateTask(ctx, "s1", "late"); g.TaskState != TaskCancelled {
		t.Errorf("late task %+v", g)
	}
	// FailSweep ends a sweep the same way.
	catSweep(t, c, "s2", "market", time.Second)
	catAddTask(t, c, SweepTask{SweepID: "s2", Key: "start", Kind: "start"})
	if err := c.FailSweep(ctx, "s2", "start failed"); err != nil {
		t.Fatal(err)
	}
	if sw, _ := c.GetSweep(ctx, "s2"); sw.Status != wildwatch.SweepFailed || sw.Reason != "start failed" || sw.Counts.Cancelled != 1 {
		t.Errorf("failed sweep %+v", sw)
	}
}

// testCatalogFailedSweep: a sweep ends failed when none of its index pages,
// or none of its listings, came through.
func testCatalogFailedSweep(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	type task struct {
		kind   string
		failed bool
	}
	tests := []struct {
		id    string
		tasks []task
		want  string
	}{
		{"all-index-failed", []task{{wildwatch.PageIndex, true}, {wildwatch.PageIndex, true}, {"start", false}}, wildwatch.SweepFailed},
		{"all-listings-failed", []task{{wildwatch.PageIndex, false}, {wildwatch.PageListing, true}}, wildwatch.SweepFailed},
		{"some-failed", []task{{wildwatch.PageIndex, true}, {wildwatch.PageIndex, false}, {wildwatch.PageListing, true}, {wildwatch.PageListing, false}}, wildwatch.SweepFinished},
		{"known-listings-only", []task{{wildwatch.PageListing, false}}, wildwatch.SweepFinished},
	}
	for i, tc := range tests {
		catSweep(t, c, tc.id, "market", time.Duration(i)*time.Second)
		for j, tk := range tc.tasks {
			catAddTask(t, c, SweepTask{SweepID: tc.id, Key: fmt.Sprint(j), Kind: tk.kind})
		}
		var last TaskOutcome
		for j, tk := range tc.tasks {
			o, err := c.FinishTaskOutcome(ctx, tc.id, fmt.Sprint(j), tk.failed)
			if err != nil {
				t.Fatal(err)
			}
			last = o
		}
		if !last.SweepEnded || last.Status != tc.want {
			t.Errorf("%s: last FinishTaskOutcome = %+v, want ended %s", tc.id, last, tc.want)
		}
		sw, _ := c.GetSweep(ctx, tc.id)
		if sw.Status != tc.want || (sw.Reason != "") != (tc.want == wildwatch.SweepFailed) {
			t.Errorf("%s: sweep %+v", tc.id, sw)
		}
	}
}

// testCatalogParkRace pauses and resumes a sweep over and over while many
// goroutines, on two handles, park its tasks: after the last resume no
// task is left parked.
func testCatalogParkRace(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	cats := []*Catalog{openCatalogT(t, dsn), openCatalogT(t, dsn)}
	c := cats[0]
	catSweep(t, c, "s1", "market", 0)
	const tasks = 40
	for i := range tasks {
		catAddTask(t, c, SweepTask{SweepID: "s1", Key: catTaskKey("listing", i), Kind: wildwatch.PageListing})
	}
	if _, err := c.StartRunning(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := cats[w%2].ParkTask(ctx, "s1", catTaskKey("listing", (i*4+w)%tasks)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 10 {
		if err := cats[1].PauseSweep(ctx, "s1", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ResumeSweep(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	sw, err := c.GetSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if sw.Status != wildwatch.SweepRunning || sw.Counts.Parked != 0 || sw.Counts.Pending != tasks {
		t.Errorf("after the race: %+v", sw)
	}
}

func testCatalogBlocked(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	for want := 1; want <= 3; want++ {
		if n, err := c.RecordBlocked(ctx, "s1"); err != nil || n != want {
			t.Fatalf("RecordBlocked = %d, %v; want %d", n, err, want)
		}
	}
	if err := c.ResetBlocked(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.RecordBlocked(ctx, "s1"); err != nil || n != 1 {
		t.Errorf("RecordBlocked after a reset = %d, %v", n, err)
	}
	// Resuming starts the count again.
	if _, err := c.StartRunning(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	catAddTask(t, c, SweepTask{SweepID: "s1", Key: "k", Kind: wildwatch.PageListing})
	if err := c.PauseSweep(ctx, "s1", "blocked: 1 block page in a row"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResumeSweep(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.RecordBlocked(ctx, "s1"); n != 1 {
		t.Errorf("RecordBlocked after resuming = %d, want 1", n)
	}
	// A task that fails leaves the run; one done ends it.
	catAddTask(t, c, SweepTask{SweepID: "s1", Key: "f", Kind: wildwatch.PageListing})
	catAddTask(t, c, SweepTask{SweepID: "s1", Key: "d", Kind: wildwatch.PageListing})
	catFinish(t, c, "s1", "f", true)
	if n, _ := c.RecordBlocked(ctx, "s1"); n != 2 {
		t.Errorf("RecordBlocked after a failed task = %d, want 2", n)
	}
	catFinish(t, c, "s1", "d", false)
	if n, _ := c.RecordBlocked(ctx, "s1"); n != 1 {
		t.Errorf("RecordBlocked after a task done = %d, want 1", n)
	}
	_, err := c.RecordBlocked(ctx, "nope")
	catErr(t, "RecordBlocked(unknown)", err, ErrNotFound)
}

// testCatalogCreateIfIdle starts sweeps of one target from many
// goroutines over two handles: exactly one is created while it is active,
// and a new one once it has ended.
func testCatalogCreateIfIdle(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	cats := []*Catalog{openCatalogT(t, dsn), openCatalogT(t, dsn)}
	tg := catTarget("market")
	if err := cats[0].PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var created []string
	actives := map[string]bool{}
	for i := range 8 {
		wg.Go(func() {
			id := fmt.Sprintf("s%d", i)
			ok, active, err := cats[i%2].CreateSweepIfIdle(ctx, wildwatch.Sweep{ID: id}, tg)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				created = append(created, id)
			} else {
				actives[active.ID] = true
			}
		})
	}
	wg.Wait()
	if len(created) != 1 {
		t.Fatalf("created %v, want one sweep", created)
	}
	for id := range actives {
		if id != created[0] {
			t.Errorf("active sweep reported %s, created %s", id, created[0])
		}
	}
	if err := cats[0].PauseSweep(ctx, created[0], ""); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := cats[1].CreateSweepIfIdle(ctx, wildwatch.Sweep{ID: "paused-blocks"}, tg); err != nil || ok {
		t.Errorf("created beside a paused sweep: %v, %v", ok, err)
	}
	if err := cats[0].CancelSweep(ctx, created[0], ""); err != nil {
		t.Fatal(err)
	}
	ok, _, err := cats[1].CreateSweepIfIdle(ctx, wildwatch.Sweep{ID: "next"}, tg)
	if err != nil || !ok {
		t.Errorf("CreateSweepIfIdle after the sweep ended = %v, %v", ok, err)
	}
	if got, err := cats[0].LatestSweep(ctx, "market"); err != nil || got.ID != "next" || got.Status != wildwatch.SweepQueued {
		t.Errorf("LatestSweep = %+v, %v", got, err)
	}
	_, err = cats[0].LatestSweep(ctx, "nobody")
	catErr(t, "LatestSweep(no sweeps)", err, ErrNotFound)
	_, _, err = cats[0].CreateSweepIfIdle(ctx, wildwatch.Sweep{ID: "x"}, catTarget("unstored"))
	catErr(t, "CreateSweepIfIdle(unknown target)", err, ErrNotFound)
}

func testCatalogChecks(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	k := wildwatch.ListingCheck{SweepID: "s1", Target: "market", URL: "https://market.example/i/1", CaptureID: "c1",
		CheckedAt: catTime, Status: 304, Result: wildwatch.CheckNotModified, IfNoneMatch: `"v1"`}
	for i, want := range []bool{true, false} {
		if added, err := c.PutListingCheck(ctx, k); err != nil || added != want {
			t.Fatalf("PutListingCheck #%d = %v, %v; want %v", i, added, err, want)
		}
	}
	k2 := wildwatch.ListingCheck{SweepID: "s1", Target: "market", URL: "https://market.example/i/2", CaptureID: "c2",
		CheckedAt: catTime.Add(time.Second), Status: 200, Result: wildwatch.CheckSameContent, IfModifiedSince: "Sat, 01 Mar 2025 10:00:00 GMT"}
	if _, err := c.PutListingCheck(ctx, k2); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListingChecks(ctx, "s1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "ListingChecks(s1)", got, []wildwatch.ListingCheck{k, k2})
	if got, _ := c.ListingChecks(ctx, "", "market", k2.URL); len(got) != 1 || got[0].URL != k2.URL {
		t.Errorf("ListingChecks(url) = %+v", got)
	}
	if sw, _ := c.GetSweep(ctx, "s1"); sw.Counts.Checked != 2 {
		t.Errorf("checked count %d, want 2", sw.Counts.Checked)
	}
	for name, bad := range map[string]wildwatch.ListingCheck{
		"no capture": {SweepID: "s1", URL: "u", Result: wildwatch.CheckNotModified},
		"bad result": {SweepID: "s1", URL: "u", CaptureID: "c", Result: "fine"},
	} {
		_, err := c.PutListingCheck(ctx, bad)
		catErr(t, "PutListingCheck("+name+")", err, ErrInvalid)
	}
	_, err = c.PutListingCheck(ctx, wildwatch.ListingCheck{SweepID: "nope", URL: "u", CaptureID: "c", Result: wildwatch.CheckNotModified})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("PutListingCheck(unknown sweep) = %v", err)
	}
	_, err = c.ListingChecks(ctx, "", "", "")
	catErr(t, "ListingChecks()", err, ErrInvalid)
}
