package storage

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func testCatalogTasks(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)

	idx := SweepTask{SweepID: "s1", Key: "index:https://market.example/c#1", Kind: wildwatch.PageIndex, URL: "https://market.example/c", Page: 1}
	catAddTask(t, c, idx)
	// A second add of the same key changes nothing, whatever it carries.
	dup := idx
	dup.URL, dup.State = "https://elsewhere.example/", TaskDone
	if added, err := c.AddTask(ctx, dup); err != nil || added {
		t.Fatalf("AddTask(duplicate) = %v, %v; want false, nil", added, err)
	}
	got, err := c.GetTask(ctx, "s1", idx.Key)
	if err != nil {
		t.Fatal(err)
	}
	idx.State = TaskPending
	catSame(t, "GetTask", got, idx)

	for i := range 3 {
		catAddTask(t, c, SweepTask{SweepID: "s1", Key: catTaskKey("listing", i), Kind: wildwatch.PageListing, URL: fmt.Sprintf("https://market.example/i/%d", i)})
	}
	for _, tc := range []struct {
		kind string
		want int
	}{{wildwatch.PageIndex, 1}, {wildwatch.PageListing, 3}, {"", 4}} {
		n, err := c.CountTasks(ctx, "s1", tc.kind)
		if err != nil || n != tc.want {
			t.Errorf("CountTasks(s1, %q) = %d, %v; want %d", tc.kind, n, err, tc.want)
		}
	}
	if n, err := c.CountTasks(ctx, "nope", wildwatch.PageIndex); err != nil || n != 0 {
		t.Errorf("CountTasks(unknown sweep) = %d, %v", n, err)
	}

	// Finishing: idempotent, and only the last pending task finishes the sweep.
	steps := []struct {
		key      string
		failed   bool
		wantDone bool
		state    string
	}{
		{idx.Key, false, false, TaskDone},
		{idx.Key, true, false, TaskDone}, // already done: stays done
		{catTaskKey("listing", 0), true, false, TaskFailed},
		{catTaskKey("listing", 1), false, false, TaskDone},
		{catTaskKey("listing", 1), false, false, TaskDone},
		{catTaskKey("listing", 2), false, true, TaskDone},
		{catTaskKey("listing", 2), false, false, TaskDone},
	}
	for i, st := range steps {
		if done := catFinish(t, c, "s1", st.key, st.failed); done != st.wantDone {
			t.Errorf("step %d: FinishTask(%s, failed=%v) sweepDone = %v, want %v", i, st.key, st.failed, done, st.wantDone)
		}
		task, err := c.GetTask(ctx, "s1", st.key)
		if err != nil || task.State != st.state {
			t.Errorf("step %d: task %s state = %q, %v; want %q", i, st.key, task.State, err, st.state)
		}
	}
	sw, err := c.GetSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if sw.Status != wildwatch.SweepFinished || sw.FinishedAt == nil || sw.Counts.Pending != 0 {
		t.Errorf("sweep after its last task = %+v, want finished with FinishedAt", sw)
	}

	// A failed sweep is not finished by its tasks.
	catSweep(t, c, "s2", "market", time.Second)
	catAddTask(t, c, SweepTask{SweepID: "s2", Key: "k", Kind: wildwatch.PageIndex})
	if err := c.SetSweepStatus(ctx, "s2", wildwatch.SweepFailed); err != nil {
		t.Fatal(err)
	}
	if catFinish(t, c, "s2", "k", false) {
		t.Error("finishing the last task of a failed sweep reported sweepDone")
	}
	if sw, _ := c.GetSweep(ctx, "s2"); sw.Status != wildwatch.SweepFailed {
		t.Errorf("failed sweep became %s", sw.Status)
	}

	// A running sweep is finished by its last task.
	catSweep(t, c, "s3", "market", 2*time.Second)
	catAddTask(t, c, SweepTask{SweepID: "s3", Key: "k", Kind: wildwatch.PageIndex})
	if err := c.SetSweepStatus(ctx, "s3", wildwatch.SweepRunning); err != nil {
		t.Fatal(err)
	}
	if !catFinish(t, c, "s3", "k", true) {
		t.Error("finishing (failed) the last task of a running sweep did not report sweepDone")
	}

	// A step of another kind (a sweep's start) holds the sweep open while
	// pending but is neither a page nor a listing.
	catSweep(t, c, "s4", "market", 3*time.Second)
	catAddTask(t, c, SweepTask{SweepID: "s4", Key: "start", Kind: "start"})
	catAddTask(t, c, SweepTask{SweepID: "s4", Key: "index:1", Kind: wildwatch.PageIndex})
	if catFinish(t, c, "s4", "index:1", false) {
		t.Error("sweep s4 reported done while its start step is pending")
	}
	if sw, _ := c.GetSweep(ctx, "s4"); !reflect.DeepEqual(sw.Counts, wildwatch.SweepCounts{Pages: 1, Pending: 1}) {
		t.Errorf("counts with a pending start step = %+v, want 1 page, 1 pending", sw.Counts)
	}
	if !catFinish(t, c, "s4", "start", false) {
		t.Error("finishing the start step last did not finish the sweep")
	}

	_, err = c.FinishTask(ctx, "s1", "nope", false)
	catErr(t, "FinishTask(unknown task)", err, ErrNotFound)
	_, err = c.FinishTask(ctx, "nope", "k", false)
	catErr(t, "FinishTask(unknown sweep)", err, ErrNotFound)
	_, err = c.GetTask(ctx, "s1", "nope")
	catErr(t, "GetTask(unknown)", err, ErrNotFound)
	_, err = c.AddTask(ctx, SweepTask{SweepID: "nope", Key: "k", Kind: wildwatch.PageIndex})
	catErr(t, "AddTask(unknown sweep)", err, ErrNotFound)
	for name, bad := range map[string]SweepTask{
		"no key":   {SweepID: "s1", Kind: wildwatch.PageIndex},
		"no sweep": {Key: "k", Kind: wildwatch.PageIndex},
		"no kind":  {SweepID: "s1", Key: "k"},
	} {
		_, err := c.AddTask(ctx, bad)
		catErr(t, "AddTask("+name+")", err, ErrInvalid)
	}
}

// catSweepPlan describes the rows to give one sweep in testCatalogCounts.
type catSweepPlan struct {
	indexDone, indexFailed, indexPending       int
	listingDone, listingFailed, listingPending int
	captures, flags, errors                    int
}

func (p catSweepPlan) apply(t *testing.T, c *Catalog, sweepID string) {
	t.Helper()
	ctx := t.Context()
	n := 0
	add := func(kind string, count int, finish func(key string)) {
		for range count {
			key := catTaskKey(kind, n)
			n++
			catAddTask(t, c, SweepTask{SweepID: sweepID, Key: key, Kind: kind})
			if finish != nil {
				finish(key)
			}
		}
	}
	done := func(key string) { catFinish(t, c, sweepID, key, false) }
	failed := func(key string) { catFinish(t, c, sweepID, key, true) }
	// Pending tasks first, so that finishing the others never ends the sweep.
	add(wildwatch.PageIndex, p.indexPending, nil)
	add(wildwatch.PageListing, p.listingPending, nil)
	add(wildwatch.PageIndex, p.indexDone, done)
	add(wildwatch.PageIndex, p.indexFailed, failed)
	add(wildwatch.PageListing, p.listingDone, done)
	add(wildwatch.PageListing, p.listingFailed, failed)
	for i := range p.captures {
		rec := catCapture(sweepID, fmt.Sprintf("%s-c%d", sweepID, i), catTime)
		if _, err := c.PutCapture(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if i < p.flags {
			if _, _, err := c.PutFlag(ctx, catFlag(rec, catTime)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range p.errors {
		if err := c.AddSweepError(ctx, wildwatch.SweepError{SweepID: sweepID, URL: fmt.Sprint(i), Kind: wildwatch.ErrKindHTTP}); err != nil {
			t.Fatal(err)
		}
	}
}

func testCatalogCounts(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	tests := []struct {
		id   string
		plan catSweepPlan
		want wildwatch.SweepCounts
	}{
		{"empty", catSweepPlan{}, wildwatch.SweepCounts{}},
		{"busy",
			catSweepPlan{indexDone: 2, indexFailed: 1, indexPending: 1, listingDone: 3, listingFailed: 1, listingPending: 2, captures: 3, flags: 2, errors: 4},
			wildwatch.SweepCounts{Pages: 2, Listings: 6, Captures: 3, Flags: 2, Errors: 4, Pending: 3,
				ErrorsByKind: map[string]int{wildwatch.ErrKindHTTP: 4}}},
		{"listings only",
			catSweepPlan{listingPending: 1, listingDone: 1, captures: 1, flags: 1},
			wildwatch.SweepCounts{Listings: 2, Captures: 1, Flags: 1, Pending: 1}},
	}
	for i, tc := range tests {
		catSweep(t, c, tc.id, "market", time.Duration(i)*time.Second)
		tc.plan.apply(t, c, tc.id)
	}
	listed, err := c.ListSweeps(ctx, SweepFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]wildwatch.SweepCounts{}
	for _, s := range listed {
		byID[s.ID] = s.Counts
	}
	for _, tc := range tests {
		got, err := c.GetSweep(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Counts, tc.want) {
			t.Errorf("GetSweep(%s).Counts = %+v, want %+v", tc.id, got.Counts, tc.want)
		}
		if !reflect.DeepEqual(byID[tc.id], tc.want) {
			t.Errorf("ListSweeps counts of %s = %+v, want %+v", tc.id, byID[tc.id], tc.want)
		}
	}
}

// testCatalogFinishRace finishes every task of a sweep from many goroutines
// over two catalog handles (as two processes would), each task more than
// once: exactly one call may report the sweep done.
func testCatalogFinishRace(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	cats := []*Catalog{openCatalogT(t, dsn), openCatalogT(t, dsn)}
	const rounds, tasks, workers = 8, 4, 6
	for round := range rounds {
		id := fmt.Sprintf("race-%d", round)
		catSweep(t, cats[0], id, "market", time.Duration(round)*time.Second)
		for i := range tasks {
			catAddTask(t, cats[i%2], SweepTask{SweepID: id, Key: catTaskKey("listing", i), Kind: wildwatch.PageListing})
		}
		var doneCount atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, workers*tasks)
		for w := range workers {
			c := cats[w%2]
			order := rand.Perm(tasks)
			wg.Go(func() {
				<-start
				for _, i := range order {
					done, err := c.FinishTask(ctx, id, catTaskKey("listing", i), i%3 == 0)
					if err != nil {
						errs <- err
						return
					}
					if done {
						doneCount.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: FinishTask: %v", round, err)
		}
		if n := doneCount.Load(); n != 1 {
			t.Errorf("round %d: %d callers were told the sweep is done, want 1", round, n)
		}
		sw, err := cats[1].GetSweep(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sw.Status != wildwatch.SweepFinished || sw.FinishedAt == nil || sw.Counts.Pending != 0 || sw.Counts.Listings != tasks {
			t.Errorf("round %d: sweep = %+v, want finished, nothing pending", round, sw)
		}
	}
}

// testCatalogConcurrentWriters has goroutines on two handles add tasks (half
// of them twice), captures and errors at once: no write may fail (SQLite
// must not answer "database is locked") and no row may be lost or doubled.
func testCatalogConcurrentWriters(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	cats := []*Catalog{openCatalogT(t, dsn), openCatalogT(t, dsn)}
	catSweep(t, cats[0], "s1", "market", 0)
	const workers, perWorker = 6, 15
	var added atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*3)
	for w := range workers {
		c := cats[w%2]
		wg.Go(func() {
			for i := range perWorker {
				// Workers w and w^1 add the same task keys.
				key := catTaskKey("listing", (w/2)*perWorker+i)
				ok, err := c.AddTask(ctx, SweepTask{SweepID: "s1", Key: key, Kind: wildwatch.PageListing})
				if err != nil {
					errs <- err
					continue
				}
				if ok {
					added.Add(1)
				}
				capID := fmt.Sprintf("c-%d-%d", w, i)
				if _, err := c.PutCapture(ctx, catCapture("s1", capID, catTime)); err != nil {
					errs <- err
				}
				if err := c.AddSweepError(ctx, wildwatch.SweepError{SweepID: "s1", URL: capID, Kind: wildwatch.ErrKindHTTP}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	wantTasks := workers / 2 * perWorker
	if n := int(added.Load()); n != wantTasks {
		t.Errorf("AddTask reported %d tasks added, want %d", n, wantTasks)
	}
	sw, err := cats[1].GetSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	want := wildwatch.SweepCounts{Listings: wantTasks, Pending: wantTasks, Captures: workers * perWorker, Errors: workers * perWorker,
		ErrorsByKind: map[string]int{wildwatch.ErrKindHTTP: workers * perWorker}}
	if !reflect.DeepEqual(sw.Counts, want) {
		t.Errorf("counts after concurrent writes = %+v, want %+v", sw.Counts, want)
	}
}
