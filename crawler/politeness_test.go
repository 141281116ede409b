package crawler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/redistest"
)

// workerFetchers returns n Fetchers, each on its own Redis client, that
// share per-host limits, robots.txt files and daily counts through one
// Redis: what n worker processes hold. cfg's other fields are kept.
func workerFetchers(t *testing.T, n int, cfg Config) []*Fetcher {
	t.Helper()
	first, prefix := redistest.New(t)
	var fs []*Fetcher
	for i := range n {
		var c *redis.Client = first
		if i > 0 {
			c = redistest.NewClient(t)
		}
		cfg := cfg
		cfg.Limiter = &RedisLimiter{Client: c, Prefix: prefix + "limit:", Poll: 20 * time.Millisecond}
		cfg.Robots = &RedisRobotsCache{Client: c, Prefix: prefix + "robots:", Poll: 20 * time.Millisecond}
		cfg.Requests = &RedisRequestCounter{Client: c, Prefix: prefix + "daily:"}
		fs = append(fs, newFetcher(t, cfg))
	}
	return fs
}

// timedServer is a testServer that also notes when each request came.
type timedServer struct {
	*testServer
	mu    sync.Mutex
	times map[string][]time.Time // path → arrival times
}

func newTimedServer(t *testing.T, h http.Handler) *timedServer {
	s := &timedServer{times: make(map[string][]time.Time)}
	s.testServer = newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.times[r.URL.Path] = append(s.times[r.URL.Path], time.Now())
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	return s
}

func (s *timedServer) arrivals(path string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.times[path])
}

// robotsServer serves robots.txt with the given body and header, and a
// small page everywhere else.
func robotsServer(t *testing.T, robots string, header http.Header) *timedServer {
	return newTimedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			for k, v := range header {
				w.Header()[k] = v
			}
			fmt.Fprint(w, robots)
			return
		}
		fmt.Fprint(w, "<h1>page</h1>")
	}))
}

func obeying(t *wildwatch.Target) { t.Politeness.ObeyRobots = nil }

func TestRobotsOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	srv := robotsServer(t, "User-agent: *\nDisallow: /private\n", nil)
	fs := workerFetchers(t, 2, Config{})
	tg := localTarget(srv.testServer, obeying)
	var wg sync.WaitGroup
	for i, f := range fs {
		for j := range 6 {
			wg.Go(func() {
				_, err := f.Fetch(t.Context(), tg, fmt.Sprintf("%s/item/%d-%d", srv.URL, i, j))
				if err != nil {
					t.Errorf("fetch: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for _, f := range fs {
		_, err := f.Fetch(t.Context(), tg, srv.URL+"/private/1")
		if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindRobots {
			t.Errorf("disallowed page: %v, want robots", err)
		}
	}
	if n := len(srv.arrivals("/robots.txt")); n != 1 {
		t.Errorf("robots.txt asked for %d times by two processes, want once", n)
	}
	if n := len(srv.arrivals("/private/1")); n != 0 {
		t.Errorf("a disallowed page was asked for %d times", n)
	}
}

// TestRobotsExpires checks that robots.txt is used for its max-age and
// asked for again after it, in one process and across processes.
func TestRobotsExpires(t *testing.T) {
	t.Parallel()
	const maxAge = time.Second
	cfg := Config{RobotsMinTTL: time.Millisecond}
	for _, tc := range []struct {
		name     string
		fetchers func(t *testing.T) []*Fetcher
	}{
		{"in process", func(t *testing.T) []*Fetcher { return []*Fetcher{newFetcher(t, cfg)} }},
		{"redis, two processes", func(t *testing.T) []*Fetcher { return workerFetchers(t, 2, cfg) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := robotsServer(t, "User-agent: *\nDisallow: /private\n", http.Header{"Cache-Control": {"public, max-age=1"}})
			fs := tc.fetchers(t)
			tg := localTarget(srv.testServer, obeying)
			fetch := func(i int) {
				t.Helper()
				if _, err := fs[i%len(fs)].Fetch(t.Context(), tg, fmt.Sprintf("%s/item/%d", srv.URL, i)); err != nil {
					t.Fatalf("fetch %d: %v", i, err)
				}
			}
			fetch(0)
			fetch(1)
			first := srv.arrivals("/robots.txt")
			if len(first) == 0 {
				t.Fatal("robots.txt never asked for")
			}
			if time.Since(first[0]) < maxAge && len(first) != 1 {
				t.Errorf("robots.txt asked for %d times within its max-age", len(first))
			}
			deadline := time.Now().Add(30 * time.Second)
			for i := 2; len(srv.arrivals("/robots.txt")) < 2; i++ {
				if time.Now().After(deadline) {
					t.Fatal("robots.txt was not asked for again after its max-age")
				}
				fetch(i)
				time.Sleep(50 * time.Millisecond)
			}
			if got := srv.arrivals("/robots.txt"); got[1].Sub(got[0]) < maxAge-10*time.Millisecond {
				t.Errorf("robots.txt asked for again %v after the first time, before its max-age of %v", got[1].Sub(got[0]), maxAge)
			}
		})
	}
}

func TestRobotsTTL(t *testing.T) {
	t.Parallel()
	f := newFetcher(t, Config{})
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"nothing said", http.Header{}, DefaultRobotsTTL},
		{"max-age", http.Header{"Cache-Control": {"max-age=7200"}}, 2 * time.Hour},
		{"max-age less age", http.Header{"Cache-Control": {"public, max-age=7200"}, "Age": {"3600"}}, time.Hour},
		{"max-age over the bound", http.Header{"Cache-Control": {"max-age=604800"}}, MaxRobotsTTL},
		{"max-age under the bound", http.Header{"Cache-Control": {"max-age=5"}}, DefaultRobotsMinTTL},
		{"no-cache", http.Header{"Cache-Control": {"no-cache"}, "Expires": {now.Add(time.Hour).Format(http.TimeFormat)}}, DefaultRobotsMinTTL},
		{"max-age before expires", http.Header{"Cache-Control": {"max-age=600"}, "Expires": {now.Add(3 * time.Hour).Format(http.TimeFormat)}}, 10 * time.Minute},
		{"expires against date", http.Header{"Date": {date}, "Expires": {now.Add(3 * time.Hour).Format(http.TimeFormat)}}, 3 * time.Hour},
		{"expires in the past", http.Header{"Date": {date}, "Expires": {now.Add(-time.Hour).Format(http.TimeFormat)}}, DefaultRobotsMinTTL},
		{"invalid expires", http.Header{"Expires": {"0"}}, DefaultRobotsMinTTL},
	}
	for _, tt := range tests {
		if got := f.robotsTTL(tt.header, now); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRobotsAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		page    string
		allowed bool
	}{
		{"404 allows everything", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "/private/1", true},
		{"401 allows everything", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, "/private/1", true},
		{"redirect followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/robots-real.txt", http.StatusMovedPermanently)
		}, "/private/1", false},
		{"endless redirects allow everything", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/robots.txt?again", http.StatusFound)
		}, "/private/1", true},
		{"rule before user-agent tolerated", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "Disallow: /nowhere\n\nUser-agent: *\nDisallow: /private\nCrawl-delay: soon\n")
		}, "/private/1", false},
		{"our own group wins", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "User-agent: *\nDisallow: /\n\nUser-agent: wildwatch\nDisallow: /private\n")
		}, "/public", true},
		{"query matched", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "User-agent: *\nDisallow: /*sort=\n")
		}, "/list?page=2&sort=price", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/robots.txt":
					tt.handler(w, r)
				case "/robots-real.txt":
					fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
				default:
					fmt.Fprint(w, "<h1>page</h1>")
				}
			}))
			f := newFetcher(t, Config{})
			tg := localTarget(srv, obeying)
			for range 2 {
				_, err := f.Fetch(t.Context(), tg, srv.URL+tt.page)
				if tt.allowed && err != nil {
					t.Fatalf("fetch: %v", err)
				}
				if !tt.allowed && (err == nil || fetchError(t, err).Kind != wildwatch.ErrKindRobots) {
					t.Fatalf("fetch: %v, want robots", err)
				}
			}
			robots := 0
			for _, p := range srv.paths() {
				if strings.HasPrefix(p, "/robots") {
					robots++
				}
			}
			if robots == 0 || robots > maxRobotsRedirects+2 {
				t.Errorf("server was asked %v: robots.txt once per fetch at most", srv.paths())
			}
			if n := len(srv.paths()) - robots; n > 0 && !tt.allowed || tt.allowed && n != 2 {
				t.Errorf("server was asked %v", srv.paths())
			}
			again := len(srv.paths())
			f.Fetch(t.Context(), tg, srv.URL+"/other")
			for _, p := range srv.paths()[again:] {
				if strings.HasPrefix(p, "/robots") {
					t.Errorf("robots.txt asked for again: %v", srv.paths()[again:])
				}
			}
		})
	}
}

// TestRobotsOnRedirects checks robots.txt on every hop: a redirect to a
// disallowed path of the same host, and to another host whose own
// robots.txt disallows the path.
func TestRobotsOnRedirects(t *testing.T) {
	t.Parallel()
	var srv *testServer
	srv = newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt" && strings.HasPrefix(r.Host, "localhost"):
			fmt.Fprint(w, "User-agent: *\nDisallow: /elsewhere\n")
		case r.URL.Path == "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
		case r.URL.Path == "/same":
			http.Redirect(w, r, "/private/1", http.StatusFound)
		case r.URL.Path == "/away":
			http.Redirect(w, r, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/elsewhere", http.StatusFound)
		default:
			fmt.Fprint(w, "<h1>page</h1>")
		}
	}))
	f := newFetcher(t, Config{})
	tg := localTarget(srv, obeying, func(t *wildwatch.Target) { t.AllowedHosts = append(t.AllowedHosts, "localhost") })
	for _, path := range []string{"/same", "/away"} {
		_, err := f.Fetch(t.Context(), tg, srv.URL+path)
		if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindRobots || !errors.Is(err, ErrRobots) || fe.Retryable {
			t.Errorf("%s: %v (%+v), want robots", path, err, fe)
		}
	}
	var hosts []string
	srv.mu.Lock()
	for _, r := range srv.requests {
		if r.URL.Path == "/private/1" || r.URL.Path == "/elsewhere" {
			t.Errorf("server was asked for %s", r.URL.Path)
		}
		if r.URL.Path == "/robots.txt" {
			hosts = append(hosts, strings.Split(r.Host, ":")[0])
		}
	}
	srv.mu.Unlock()
	if slices.Sort(hosts); strings.Join(hosts, " ") != "127.0.0.1 localhost" {
		t.Errorf("robots.txt asked of %v, want each host once", hosts)
	}
}

// TestCrawlDelay checks that a Crawl-delay spaces the requests to a host
// in every process, though the target lifts its own rate limit.
func TestCrawlDelay(t *testing.T) {
	t.Parallel()
	const delay = 250 * time.Millisecond
	for _, tc := range []struct {
		name, robots string
	}{
		{"any agent", "User-agent: *\nCrawl-delay: 0.25\n"},
		{"our agent", "User-agent: otherbot\nDisallow: /\n\nUser-agent: wildwatch\nCrawl-delay: 0.25\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := robotsServer(t, tc.robots, nil)
			fs := workerFetchers(t, 2, Config{})
			tg := localTarget(srv.testServer, obeying)
			begin := time.Now()
			var wg sync.WaitGroup
			const perProcess = 3
			for i, f := range fs {
				for j := range perProcess {
					wg.Go(func() {
						if _, err := f.Fetch(t.Context(), tg, fmt.Sprintf("%s/item/%d-%d", srv.URL, i, j)); err != nil {
							t.Errorf("fetch: %v", err)
						}
					})
				}
			}
			wg.Wait()
			var pages []time.Time
			srv.mu.Lock()
			for p, ts := range srv.times {
				if p != "/robots.txt" {
					pages = append(pages, ts...)
				}
			}
			srv.mu.Unlock()
			if len(pages) != 2*perProcess {
				t.Fatalf("%d pages served, want %d", len(pages), 2*perProcess)
			}
			last := slices.MaxFunc(pages, func(a, b time.Time) int { return a.Compare(b) })
			// n requests at least delay apart start over (n-1)×delay at
			// least, however the processes interleave.
			if least := time.Duration(len(pages)-1) * delay; last.Sub(begin) < least-time.Millisecond {
				t.Errorf("%d pages served within %v, want %v at least", len(pages), last.Sub(begin), least)
			}
		})
	}
}

func TestDailyCapAcrossProcesses(t *testing.T) {
	t.Parallel()
	const limit = 5
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<h1>page</h1>")
	}))
	fs := workerFetchers(t, 2, Config{})
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Politeness.DailyRequests = limit })
	start := time.Now()
	_, midnight := utcDay(start)
	var mu sync.Mutex
	var ok, capped int
	var wg sync.WaitGroup
	for i, f := range fs {
		for j := range 4 {
			wg.Go(func() {
				_, err := f.Fetch(t.Context(), tg, fmt.Sprintf("%s/item/%d-%d", srv.URL, i, j))
				mu.Lock()
				defer mu.Unlock()
				var fe *FetchError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &fe) && fe.Kind == wildwatch.ErrKindCapped:
					capped++
					if _, now := utcDay(time.Now()); !now.Equal(midnight) {
						return // the day ended during the test
					}
					var ce *CapError
					if !fe.Retryable || fe.RetryAfter > midnight.Sub(start) || fe.RetryAfter < time.Until(midnight)-time.Minute ||
						!errors.As(err, &ce) || ce.Limit != limit || !ce.Reset.Equal(midnight) {
						t.Errorf("capped: %+v, want retryable at the next UTC midnight", fe)
					}
				default:
					t.Errorf("fetch: %v", err)
				}
			})
		}
	}
	wg.Wait()
	if ok != limit || capped != 8-limit {
		t.Errorf("%d fetches done and %d capped, want %d and %d", ok, capped, limit, 8-limit)
	}
	if n := len(srv.paths()); n != limit {
		t.Errorf("server was asked %d times, want %d", n, limit)
	}
	// Another target on the same host has a cap of its own.
	other := localTarget(srv, func(t *wildwatch.Target) { t.Name, t.Politeness.DailyRequests = "other", limit })
	if _, err := fs[1].Fetch(t.Context(), other, srv.URL+"/item/other"); err != nil {
		t.Errorf("another target: %v", err)
	}
}

// TestDailyCapCountsRobots checks that the robots.txt request counts.
func TestDailyCapCountsRobots(t *testing.T) {
	t.Parallel()
	srv := robotsServer(t, "User-agent: *\nDisallow: /private\n", nil)
	f := newFetcher(t, Config{})
	tg := localTarget(srv.testServer, obeying, func(t *wildwatch.Target) { t.Politeness.DailyRequests = 2 })
	if _, err := f.Fetch(t.Context(), tg, srv.URL+"/item/1"); err != nil {
		t.Fatal(err)
	}
	_, err := f.Fetch(t.Context(), tg, srv.URL+"/item/2")
	if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindCapped || !fe.Retryable {
		t.Errorf("third request: %v, want capped", err)
	}
	if got := strings.Join(srv.paths(), " "); got != "/robots.txt /item/1" {
		t.Errorf("server was asked %q", got)
	}
}

// TestRequestCounters holds both RequestCounters to one behaviour.
func TestRequestCounters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		new  func(t *testing.T) RequestCounter
	}{
		{"memory", func(*testing.T) RequestCounter { return &MemoryRequestCounter{} }},
		{"redis", func(t *testing.T) RequestCounter {
			c, prefix := redistest.New(t)
			return &RedisRequestCounter{Client: c, Prefix: prefix}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.new(t)
			ctx := t.Context()
			for i := range 3 {
				ok, err := c.Take(ctx, "shop", "2025-03-01", 2)
				if err != nil || ok != (i < 2) {
					t.Errorf("take %d: %v, %v; want %v", i, ok, err, i < 2)
				}
			}
			if n, err := c.Count(ctx, "shop", "2025-03-01"); n != 2 || err != nil {
				t.Errorf("count %d, %v; want 2", n, err)
			}
			if ok, _ := c.Take(ctx, "market", "2025-03-01", 2); !ok {
				t.Error("another target has a count of its own")
			}
			if ok, _ := c.Take(ctx, "shop", "2025-03-02", 2); !ok {
				t.Error("a new day starts a new count")
			}
			if n, _ := c.Count(ctx, "shop", "2025-03-02"); n != 1 {
				t.Errorf("the new day's count is %d, want 1", n)
			}
			if ok, _ := c.Take(ctx, "shop", "2025-03-02", 3); !ok {
				t.Error("a higher cap lets more through")
			}
		})
	}
}

// TestRobotsCaches holds both RobotsCaches to one behaviour.
func TestRobotsCaches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		new  func(t *testing.T) (a, b RobotsCache) // two processes' caches
	}{
		{"memory", func(*testing.T) (RobotsCache, RobotsCache) {
			c := &MemoryRobotsCache{}
			return c, c
		}},
		{"redis", func(t *testing.T) (RobotsCache, RobotsCache) {
			first, prefix := redistest.New(t)
			return &RedisRobotsCache{Client: first, Prefix: prefix, Poll: 10 * time.Millisecond},
				&RedisRobotsCache{Client: redistest.NewClient(t), Prefix: prefix, Poll: 10 * time.Millisecond}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := tc.new(t)
			ctx := t.Context()
			var mu sync.Mutex
			fetched := 0
			release := make(chan struct{})
			fetch := func(ttl time.Duration) func(context.Context) (*RobotsFile, error) {
				return func(ctx context.Context) (*RobotsFile, error) {
					mu.Lock()
					fetched++
					mu.Unlock()
					<-release
					now := time.Now()
					return &RobotsFile{Status: 200, Body: []byte("User-agent: *\nDisallow: /x\n"), FetchedAt: now, Expires: now.Add(ttl)}, nil
				}
			}
			// Concurrent loads from both: one fetch.
			var wg sync.WaitGroup
			for i := range 6 {
				c := a
				if i%2 == 1 {
					c = b
				}
				wg.Go(func() {
					f, err := c.Load(ctx, "https://shop.example", fetch(time.Minute))
					if err != nil || f.Status != 200 || string(f.Body) != "User-agent: *\nDisallow: /x\n" || time.Until(f.Expires) <= 0 {
						t.Errorf("Load = %+v, %v", f, err)
					}
				})
			}
			for {
				mu.Lock()
				n := fetched
				mu.Unlock()
				if n > 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			close(release)
			wg.Wait()
			if fetched != 1 {
				t.Errorf("fetched %d times, want once", fetched)
			}
			// Another origin is another file.
			if _, err := b.Load(ctx, "http://shop.example", fetch(time.Minute)); err != nil || fetched != 2 {
				t.Errorf("another origin: %v, fetched %d times", err, fetched)
			}
			// A failed fetch keeps nothing.
			boom := errors.New("robots.txt answered 503")
			_, err := a.Load(ctx, "https://other.example", func(context.Context) (*RobotsFile, error) { return nil, boom })
			if !errors.Is(err, boom) {
				t.Errorf("failed fetch: %v", err)
			}
			if _, err := b.Load(ctx, "https://other.example", fetch(time.Minute)); err != nil || fetched != 3 {
				t.Errorf("after a failed fetch: %v, fetched %d times, want another fetch", err, fetched)
			}
			// An expired file is fetched again.
			if _, err := a.Load(ctx, "https://short.example", fetch(50*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for fetched < 5 && time.Now().Before(deadline) {
				if _, err := b.Load(ctx, "https://short.example", fetch(time.Minute)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if fetched != 5 {
				t.Errorf("an expired file was not fetched again (%d fetches)", fetched)
			}
		})
	}
}

func TestUTCDay(t *testing.T) {
	t.Parallel()
	if day, end := utcDay(time.Date(2025, 3, 1, 23, 59, 0, 0, time.FixedZone("x", -3600))); day != "2025-03-02" ||
		!end.Equal(time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("utcDay = %s, %v", day, end)
	}
}
