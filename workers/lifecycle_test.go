package workers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// countingDemo serves the demo marketplace and keeps its request log.
type countingDemo struct {
	*httptest.Server
	mu  sync.Mutex
	log []string // paths, in the order asked for
}

func startCountingDemo(t *testing.T) *countingDemo {
	d := &countingDemo{}
	site := demosite.New(demosite.Config{SlowDelay: time.Millisecond, Log: func(r *http.Request) {
		d.mu.Lock()
		d.log = append(d.log, r.URL.Path)
		d.mu.Unlock()
	}})
	d.Server = httptest.NewServer(site)
	t.Cleanup(d.Close)
	return d
}

func (d *countingDemo) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.log)
}

// slowDemoTarget is the demo target's "all" category, statically, at 25
// requests a second and one at a time, up to max listings: slow enough for
// a sweep to be caught in the middle.
func slowDemoTarget(t *testing.T, baseURL string, max int) wildwatch.Target {
	tg := demoTarget(t, baseURL)
	tg.Name = "demo-slow"
	tg.StartURLs = tg.StartURLs[:1]
	tg.Search = nil
	tg.Limits.MaxListings = max
	tg.Politeness.RequestsPerSecond = 25
	tg.Politeness.Concurrency = 1
	return tg
}

// waitSweep polls the sweep until cond holds, failing after a minute.
func waitSweep(t *testing.T, c *storage.Catalog, id, what string, cond func(wildwatch.Sweep) bool) wildwatch.Sweep {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := c.GetSweep(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: sweep %+v", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiet checks, for a while, that the site gets no request.
func (d *countingDemo) quiet(t *testing.T, what string, within time.Duration) {
	t.Helper()
	before := len(d.requests())
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := d.requests(); len(got) != before {
			t.Fatalf("%s: %d requests, the first %s", what, len(got)-before, got[before])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settle waits until the site has had no request for 200ms.
func (d *countingDemo) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	n, since := len(d.requests()), time.Now()
	for time.Since(since) < 200*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("the site never went quiet")
		}
		time.Sleep(20 * time.Millisecond)
		if m := len(d.requests()); m != n {
			n, since = m, time.Now()
		}
	}
}

// apiServer serves the API over the stack, with a token of role for name.
func (b *bundle) apiServer(t *testing.T, name, role string) *api.Client {
	t.Helper()
	srv, err := api.New(api.Config{Catalog: b.catalog, Evidence: b.store, Sweeps: b.client, Logger: b.logger})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	token, hash, err := api.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.catalog.PutToken(context.Background(), storage.Token{Name: name, Role: role, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return &api.Client{BaseURL: hs.URL, Token: token}
}

// TestPauseResume pauses a sweep of the demo site in its middle: nothing
// more is fetched while it is paused, and once resumed (through the API) it
// finishes with every listing captured once and fetched once.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newStack(t, 4)
	d := startCountingDemo(t)
	tg := slowDemoTarget(t, d.URL, 60)
	if err := b.catalog.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	c := b.apiServer(t, "alice", api.RoleMonitor)
	sw, err := b.client.StartSweep(ctx, tg.Name)
	if err != nil {
		t.Fatal(err)
	}
	waitSweep(t, b.catalog, sw.ID, "a few captures", func(s wildwatch.Sweep) bool { return s.Counts.Captures >= 8 })
	paused, err := c.PauseSweep(ctx, sw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if paused.Status != wildwatch.SweepPaused || paused.Reason != "paused by alice" {
		t.Fatalf("paused sweep %+v", paused)
	}
	// Tasks running when it was paused finish; the rest are parked as the
	// workers pick them up.
	at := waitSweep(t, b.catalog, sw.ID, "every task settled or parked", func(s wildwatch.Sweep) bool { return s.Counts.Pending == 0 })
	if at.Status != wildwatch.SweepPaused || at.Counts.Parked == 0 || at.Counts.Captures >= 60 {
		t.Fatalf("sweep after pausing: %+v; want paused with parked tasks", at)
	}
	d.quiet(t, "while paused", 500*time.Millisecond)
	if _, err := c.PauseSweep(ctx, sw.ID); status(err) != http.StatusConflict {
		t.Errorf("pausing a paused sweep: %v, want 409", err)
	}

	resumed, err := c.ResumeSweep(ctx, sw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Status != wildwatch.SweepRunning || resumed.Reason != "" {
		t.Errorf("resumed sweep %+v", resumed)
	}
	done := waitSweep(t, b.catalog, sw.ID, "the end", func(s wildwatch.Sweep) bool { return wildwatch.SweepEnded(s.Status) })
	if done.Status != wildwatch.SweepFinished || done.Counts.Listings != 60 || done.Counts.Parked+done.Counts.Pending != 0 ||
		done.Counts.Captures+done.Counts.Errors != 60 {
		t.Errorf("sweep after resuming: %+v", done)
	}
	caps, err := b.catalog.ListCaptures(ctx, sw.ID)
	if err != nil {
		t.Fatal(err)
	}
	hits := map[string]int{}
	for _, p := range d.requests() {
		hits[p]++
	}
	seen := map[string]bool{}
	for _, rec := range caps {
		u := rec.Capture.URL
		if seen[u] {
			t.Errorf("%s captured twice", u)
		}
		seen[u] = true
		if p := strings.TrimPrefix(u, d.URL); hits[p] != 1 {
			t.Errorf("%s fetched %d times", p, hits[p])
		}
	}
	if len(caps) <= at.Counts.Captures {
		t.Errorf("%d captures at the end, %d before the pause", len(caps), at.Counts.Captures)
	}
}

// TestCancel cancels a sweep in its middle: its tasks left are cancelled,
// never fetched, and the sweep ends as cancelled.
func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newStack(t, 4)
	d := startCountingDemo(t)
	tg := slowDemoTarget(t, d.URL, 60)
	if err := b.catalog.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	sw, err := b.client.StartSweep(ctx, tg.Name)
	if err != nil {
		t.Fatal(err)
	}
	waitSweep(t, b.catalog, sw.ID, "a few captures", func(s wildwatch.Sweep) bool { return s.Counts.Captures >= 5 })
	atCancel := len(d.requests())
	cancelled, err := b.client.CancelSweep(ctx, sw.ID, "cancelled by test")
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != wildwatch.SweepCancelled || cancelled.FinishedAt == nil || cancelled.Reason != "cancelled by test" {
		t.Fatalf("cancelled sweep %+v", cancelled)
	}
	// Tasks added by an index page in flight are cancelled as the workers
	// pick them up.
	s := waitSweep(t, b.catalog, sw.ID, "no task pending", func(s wildwatch.Sweep) bool { return s.Counts.Pending == 0 })
	d.settle(t) // the tasks in flight when it was cancelled end
	after := len(d.requests())
	d.quiet(t, "after cancelling", 500*time.Millisecond)
	if s.Status != wildwatch.SweepCancelled || s.Counts.Cancelled == 0 || s.Counts.Parked != 0 || s.Counts.Captures >= 60 {
		t.Errorf("after cancelling: %+v", s)
	}
	if n := after - atCancel; n > 5 {
		t.Errorf("%d requests after cancelling; only the %d tasks in flight may make one", n, 5)
	}
	if _, err := b.client.ResumeSweep(ctx, sw.ID); err == nil {
		t.Error("resumed a cancelled sweep")
	}
}

// noBackoff is a Limiter that never holds a host back, so that block pages
// are asked for again at once.
type noBackoff struct{}

func (noBackoff) Acquire(context.Context, string, crawler.LimitRule) (func(), error) {
	return func() {}, nil
}

// TestBlockedPause: a site that answers with a CAPTCHA page has the sweep
// paused after three of them in a row, saying why; once the site lets the
// crawler in again, the resumed sweep captures every listing.
func TestBlockedPause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	blocking := true
	items := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		block := blocking
		if strings.HasPrefix(r.URL.Path, "/item/") {
			items++
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch {
		case r.URL.Path == "/robots.txt":
			w.Write([]byte("User-agent: *\nAllow: /\n"))
		case r.URL.Path == "/search":
			var b strings.Builder
			for i := range 8 {
				b.WriteString(`<a class="l" href="/item/` + string(rune('a'+i)) + `">x</a>`)
			}
			w.Write([]byte(b.String()))
		case block:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`<html><title>Attention Required</title><h1>Please verify you are human</h1></html>`))
		default:
			w.Write([]byte(`<html><h1 class="t">Bicycle bell</h1></html>`))
		}
	}))
	t.Cleanup(srv.Close)
	b := newStackWith(t, 1, func(c *workers.Config) {
		f := crawler.New(crawler.Config{Logger: c.Logger, Limiter: noBackoff{}})
		t.Cleanup(f.Close)
		c.Fetcher, c.BlockedPause = f, 3
	})
	tg := wildwatch.Target{
		Name: "blocker", AllowedHosts: []string{"127.0.0.1"}, StartURLs: []string{srv.URL + "/search"},
		Selectors:  wildwatch.Selectors{ListingLinks: "a.l", Fields: wildwatch.FieldSelectors{Title: "h1.t"}},
		Politeness: wildwatch.Politeness{RequestsPerSecond: -1, AllowPrivate: true},
	}
	if err := b.catalog.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	sw, err := b.client.StartSweep(ctx, tg.Name)
	if err != nil {
		t.Fatal(err)
	}
	paused := waitSweep(t, b.catalog, sw.ID, "a pause", func(s wildwatch.Sweep) bool { return s.Status == wildwatch.SweepPaused })
	if !strings.HasPrefix(paused.Reason, "blocked: 3 pages in a row") || paused.Counts.Captures != 0 {
		t.Errorf("paused sweep %+v", paused)
	}
	parked := waitSweep(t, b.catalog, sw.ID, "the blocked tasks parked", func(s wildwatch.Sweep) bool { return s.Counts.Parked >= 6 })
	mu.Lock()
	asked := items
	blocking = false
	mu.Unlock()
	if asked > 3+1 { // the third block pauses; one task may be in flight
		t.Errorf("%d listing pages asked for before the pause held", asked)
	}
	t.Logf("paused: %+v", parked.Counts)

	if _, err := b.client.ResumeSweep(ctx, sw.ID); err != nil {
		t.Fatal(err)
	}
	done := waitSweep(t, b.catalog, sw.ID, "the end", func(s wildwatch.Sweep) bool { return wildwatch.SweepEnded(s.Status) })
	if done.Status != wildwatch.SweepFinished || done.Counts.Captures != 8 || done.Reason != "" {
		t.Errorf("resumed sweep %+v", done)
	}
}

// status is the HTTP status of an API client error, 0 for none.
func status(err error) int {
	if ae, ok := err.(*api.Error); ok {
		return ae.Status
	}
	return 0
}
