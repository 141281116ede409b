package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// startScheduler runs a scheduler on the stack that reads the schedules
// every 200ms.
func (b *bundle) startScheduler(t *testing.T) {
	t.Helper()
	s, err := workers.NewScheduler(workers.SchedulerConfig{RedisURL: b.redisURL, Catalog: b.catalog,
		SyncInterval: 200 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond, Logger: b.logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
}

// slowSite is the tiny site whose one listing answers after delay.
func slowSite(t *testing.T, delay time.Duration) (*httptest.Server, wildwatch.Target) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		case "/search":
			fmt.Fprint(w, `<a class="l" href="/item/1">1</a>`)
		case "/item/1":
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
			fmt.Fprint(w, `<html lang="en"><h1 class="t">Rocking chair</h1></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	return srv, wildwatch.Target{
		Name: "scheduled", AllowedHosts: []string{host}, StartURLs: []string{srv.URL + "/search"},
		Selectors:  wildwatch.Selectors{ListingLinks: "a.l", Fields: wildwatch.FieldSelectors{Title: "h1.t"}},
		Politeness: wildwatch.Politeness{RequestsPerSecond: -1, AllowPrivate: true},
	}
}

func (b *bundle) sweepsOf(t *testing.T, target string) []wildwatch.Sweep {
	t.Helper()
	ss, err := b.catalog.ListSweeps(context.Background(), storage.SweepFilter{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// TestScheduleEditedThroughAPI: a target scheduled every hour starts
// nothing; once an admin makes it every 2 seconds through the API, the
// running scheduler fires it at the new time, without a restart, and never
// starts a sweep while the one before is still running.
func TestScheduleEditedThroughAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newStack(t, 2)
	_, tg := slowSite(t, 3*time.Second)
	tg.Schedule = &wildwatch.Schedule{Every: wildwatch.Interval(time.Hour)}
	if err := b.catalog.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	b.startScheduler(t)
	admin := b.apiServer(t, "root", api.RoleAdmin)

	// The hourly schedule is reported, an hour ahead at most.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ss, err := admin.Schedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 && ss[0].NextRun != nil {
			if d := time.Until(*ss[0].NextRun); d > time.Hour || ss[0].LastSweep != nil {
				t.Fatalf("schedule %+v: next run in %s", ss[0], d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no next run reported: %+v", ss)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Bad schedules are refused, naming the field.
	for _, bad := range []*wildwatch.Schedule{
		{Cron: "61 * * * *"},
		{Every: wildwatch.Interval(time.Hour), Cron: "@daily"},
		{Every: wildwatch.Interval(time.Hour), Window: "22:00"},
		{Cron: "@daily", TZ: "Mars/Olympus"},
	} {
		if _, err := admin.SetSchedule(ctx, tg.Name, bad); status(err) != http.StatusBadRequest || !strings.Contains(err.Error(), ": schedule") {
			t.Errorf("SetSchedule(%+v) = %v, want 400 naming the schedule", bad, err)
		}
	}
	monitor := b.apiServer(t, "mo", api.RoleMonitor)
	if _, err := monitor.SetSchedule(ctx, tg.Name, &wildwatch.Schedule{Every: wildwatch.Interval(2 * time.Second)}); status(err) != http.StatusForbidden {
		t.Errorf("a monitor set a schedule: %v", err)
	}

	edited := time.Now()
	got, err := admin.SetSchedule(ctx, tg.Name, &wildwatch.Schedule{Every: wildwatch.Interval(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Schedule == nil || time.Duration(got.Schedule.Every) != 2*time.Second {
		t.Fatalf("target after SetSchedule %+v", got.Schedule)
	}
	stored, source, err := b.catalog.GetTarget(ctx, tg.Name)
	if err != nil || stored.Schedule == nil || !strings.Contains(string(source), "every: 2s") {
		t.Fatalf("stored target %+v, source %s, %v", stored.Schedule, source, err)
	}

	// Two sweeps: the second starts only once the first has ended.
	deadline = time.Now().Add(time.Minute)
	var ss []wildwatch.Sweep
	for {
		ss = b.sweepsOf(t, tg.Name)
		if len(ss) >= 2 {
			break
		}
		if len(ss) == 1 && !wildwatch.SweepActive(ss[0].Status) && ss[0].Status != wildwatch.SweepFinished {
			t.Fatalf("first scheduled sweep %+v", ss[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweeps %+v", ss)
		}
		time.Sleep(50 * time.Millisecond)
	}
	first, second := ss[len(ss)-1], ss[len(ss)-2]
	if d := first.CreatedAt.Sub(edited); d < time.Second {
		t.Errorf("first scheduled sweep started %s after the edit; the schedule says every 2s", d)
	}
	if first.FinishedAt == nil || second.CreatedAt.Before(*first.FinishedAt) {
		t.Errorf("second sweep %s started at %s, the first ended at %v", second.ID, second.CreatedAt, first.FinishedAt)
	}

	// Off: the scheduler lets go of it.
	if _, err := admin.SetSchedule(ctx, tg.Name, nil); err != nil {
		t.Fatal(err)
	}
	stored, source, err = b.catalog.GetTarget(ctx, tg.Name)
	if err != nil || stored.Schedule != nil || strings.Contains(string(source), "schedule:") {
		t.Errorf("stored target after turning the schedule off: %+v, %q, %v", stored.Schedule, source, err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		ss, err := admin.Schedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 1 && ss[0].NextRun == nil && ss[0].Schedule == nil && ss[0].LastSweep != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedule still reported: %+v", ss[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScheduleWindowDefers: a fire outside the crawl window starts no
// sweep but waits, as one task however often the schedule fires, for the
// window's start; when it comes, the sweep starts.
func TestScheduleWindowDefers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newStack(t, 2)
	_, tg := slowSite(t, 0)
	now := time.Now().In(time.UTC)
	from, to := now.Add(2*time.Hour), now.Add(3*time.Hour)
	window := fmt.Sprintf("%02d:%02d-%02d:%02d", from.Hour(), from.Minute(), to.Hour(), to.Minute())
	tg.Schedule = &wildwatch.Schedule{Every: wildwatch.Interval(time.Second), Window: window, TZ: "UTC"}
	// The window, as crawler.ParseTarget checks it.
	if _, _, err := crawler.SetSchedule("t.yaml", nil, tg, tg.Schedule); err != nil {
		t.Fatal(err)
	}
	if err := b.catalog.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	// A sweep long ago: the schedule is overdue and fires every second.
	done := now.Add(-9 * time.Second)
	seed := wildwatch.Sweep{ID: "seed", Target: tg.Name, Status: wildwatch.SweepFinished, CreatedAt: now.Add(-10 * time.Second), FinishedAt: &done}
	if err := b.catalog.CreateSweep(ctx, seed, tg); err != nil {
		t.Fatal(err)
	}
	b.startScheduler(t)

	opt, err := asynq.ParseRedisURI(b.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { insp.Close() })
	deferred := func() []*asynq.TaskInfo {
		tasks, err := insp.ListScheduledTasks(workers.QueueSweep)
		if err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatal(err)
		}
		var out []*asynq.TaskInfo
		for _, ti := range tasks {
			// A deferred fire says when it is due; the schedule's own
			// next fire is queued beside it.
			var p struct {
				At time.Time `json:"at"`
			}
			if ti.Type == workers.TypeScheduled && json.Unmarshal(ti.Payload, &p) == nil && !p.At.IsZero() {
				out = append(out, ti)
			}
		}
		return out
	}
	// Several fires, one deferred task.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if len(deferred()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deferred fires: %+v", deferred())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.waitFires(t, insp, 3)
	ds := deferred()
	if len(ds) != 1 {
		t.Fatalf("%d deferred fires after several fires, want 1", len(ds))
	}
	wantAt := time.Date(from.Year(), from.Month(), from.Day(), from.Hour(), from.Minute(), 0, 0, time.UTC)
	if !ds[0].NextProcessAt.Equal(wantAt) {
		t.Errorf("fire deferred to %s, want the window's start %s", ds[0].NextProcessAt, wantAt)
	}
	if ss := b.sweepsOf(t, tg.Name); len(ss) != 1 {
		t.Fatalf("sweeps started outside the window: %+v", ss)
	}
	// The window's start comes.
	if err := insp.RunTask(workers.QueueSweep, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for len(b.sweepsOf(t, tg.Name)) == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the deferred fire started no sweep")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFires waits until n fires of schedules have been handled.
func (b *bundle) waitFires(t *testing.T, insp *asynq.Inspector, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fired := len(fires(t, insp, insp.ListCompletedTasks))
		if fired >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d fires, want %d", fired, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fires returns the fires of schedules list returns from the sweep queue.
func fires(t *testing.T, insp *asynq.Inspector, list func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)) []*asynq.TaskInfo {
	t.Helper()
	tasks, err := list(workers.QueueSweep, asynq.PageSize(1000))
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	var out []*asynq.TaskInfo
	for _, ti := range tasks {
		if ti.Type == workers.TypeScheduled {
			out = append(out, ti)
		}
	}
	return out
}

// TestScheduleEveryAnchoredOnLastSweep: an every-schedule counts from the
// start of the target's latest sweep, not from when a scheduler loaded it.
// A scheduler restarted mid-interval queues the next fire for the same
// time, once; a scheduler started after a fire came due fires it at once,
// once, however often it is restarted.
func TestScheduleEveryAnchoredOnLastSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newStack(t, 2)
	opt, err := asynq.ParseRedisURI(b.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { insp.Close() })
	_, tg := slowSite(t, 0)
	tg.Schedule = &wildwatch.Schedule{Every: wildwatch.Interval(time.Hour)}
	if err := b.catalog.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	last := time.Now().Add(-40 * time.Minute).Truncate(time.Second).UTC()
	done := last.Add(time.Minute)
	if err := b.catalog.CreateSweep(ctx, wildwatch.Sweep{ID: "last", Status: wildwatch.SweepFinished, CreatedAt: last, FinishedAt: &done}, tg); err != nil {
		t.Fatal(err)
	}
	want := last.Add(time.Hour)
	client, err := workers.NewClient(b.redisURL, b.catalog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	// scheduled waits for the scheduler to queue the fire due at want, and
	// checks that it is the only one.
	scheduled := func(round int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			fs := fires(t, insp, insp.ListScheduledTasks)
			if len(fs) > 1 {
				t.Fatalf("round %d: %d fires queued, want one: %+v", round, len(fs), fs)
			}
			if len(fs) == 1 {
				if !fs[0].NextProcessAt.Equal(want) {
					t.Fatalf("round %d: fire queued for %s, want an hour after the last sweep, %s", round, fs[0].NextProcessAt, want)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no fire queued", round)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for round := range 3 {
		s := b.newScheduler(t)
		scheduled(round)
		next, err := client.NextRuns(ctx, []wildwatch.Target{tg})
		if err != nil || !next[tg.Name].Equal(want) {
			t.Errorf("round %d: NextRuns = %v, %v, want %s", round, next, err, want)
		}
		// A few more syncs, then a restart mid-interval.
		time.Sleep(3 * 200 * time.Millisecond)
		scheduled(round)
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ss := b.sweepsOf(t, tg.Name); len(ss) != 1 {
		t.Fatalf("sweeps %+v, want none started mid-interval", ss)
	}

	// The hour passes while no scheduler runs: the fire due is fired once
	// by the next scheduler, and not again by the one after.
	if err := b.catalog.CreateSweep(ctx, wildwatch.Sweep{ID: "older", Status: wildwatch.SweepFinished,
		CreatedAt: last.Add(-time.Hour), FinishedAt: &done}, tg); err != nil {
		t.Fatal(err)
	}
	tg2 := tg
	tg2.Name = "overdue"
	if err := b.catalog.PutTarget(ctx, tg2, nil); err != nil {
		t.Fatal(err)
	}
	lapsed := time.Now().Add(-70 * time.Minute).UTC()
	if err := b.catalog.CreateSweep(ctx, wildwatch.Sweep{ID: "lapsed", Status: wildwatch.SweepFinished, CreatedAt: lapsed, FinishedAt: &done}, tg2); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		s := b.newScheduler(t)
		deadline := time.Now().Add(30 * time.Second)
		for len(b.sweepsOf(t, tg2.Name)) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the overdue fire started no sweep", round)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(3 * 200 * time.Millisecond)
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ss := b.sweepsOf(t, tg2.Name)
	if len(ss) != 2 {
		t.Fatalf("sweeps of the overdue target %+v, want one started by the fire due", ss)
	}
	if len(b.sweepsOf(t, tg.Name)) != 2 {
		t.Errorf("the target swept 40 minutes ago was swept again")
	}
}

// newScheduler starts a scheduler on the stack that reads the schedules
// every 200ms; the caller stops it.
func (b *bundle) newScheduler(t *testing.T) *workers.Scheduler {
	t.Helper()
	s, err := workers.NewScheduler(workers.SchedulerConfig{RedisURL: b.redisURL, Catalog: b.catalog,
		SyncInterval: 200 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond, Logger: b.logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}
