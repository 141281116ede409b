package crawler

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// testServer is an httptest server that records what it was asked for.
type testServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
}

func newTestServer(t *testing.T, h http.Handler) *testServer {
	t.Helper()
	s := &testServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// paths returns the paths requested, in order.
func (s *testServer) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p []string
	for _, r := range s.requests {
		p = append(p, r.URL.RequestURI())
	}
	return p
}

func (s *testServer) host() string {
	u, _ := url.Parse(s.URL)
	return u.Hostname()
}

// localTarget is a target for pages served by srv: private addresses
// allowed, robots.txt ignored and no rate limit, unless changed by mods.
func localTarget(srv *testServer, mods ...func(*wildwatch.Target)) wildwatch.Target {
	no := false
	t := wildwatch.Target{
		Name:         "local",
		AllowedHosts: []string{srv.host()},
		StartURLs:    []string{srv.URL + "/"},
		Selectors:    wildwatch.Selectors{ListingLinks: "a", Fields: wildwatch.FieldSelectors{Title: "h1"}},
		Politeness: wildwatch.Politeness{
			RequestsPerSecond: -1,
			Concurrency:       8,
			ObeyRobots:        &no,
			AllowPrivate:      true,
		},
	}
	for _, m := range mods {
		m(&t)
	}
	return t
}

func newFetcher(t *testing.T, cfg Config) *Fetcher {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	f := New(cfg)
	t.Cleanup(f.Close)
	return f
}

func fetchError(t *testing.T, err error) *FetchError {
	t.Helper()
	var fe *FetchError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *FetchError", err, err)
	}
	return fe
}

func TestFetchCapture(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("testdata/charset/gbk-header.html")
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/page?id=7", http.StatusFound)
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=GBK")
			w.Header().Set("X-Test", "yes")
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	f := newFetcher(t, Config{})
	tg := localTarget(srv)
	before := time.Now().UTC()
	c, err := f.Fetch(t.Context(), tg, srv.URL+"/start")
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Target", c.Target, "local"},
		{"URL", c.URL, srv.URL + "/start"},
		{"FinalURL", c.FinalURL, srv.URL + "/page?id=7"},
		{"RemoteIP", c.RemoteIP, "127.0.0.1"},
		{"Status", c.Status, 200},
		{"UserAgent", c.UserAgent, wildwatch.DefaultUserAgent},
		{"sent User-Agent", c.RequestHeader.Get("User-Agent"), wildwatch.DefaultUserAgent},
		{"sent Host", c.RequestHeader.Get("Host"), strings.TrimPrefix(srv.URL, "http://")},
		{"sent fetch header", c.RequestHeader.Get(fetchHeader), ""},
		{"Header", c.Header.Get("X-Test"), "yes"},
		{"Proto", c.Proto, "HTTP/1.1"},
		{"Body", string(c.Body), string(body)},
		{"Truncated", c.Truncated, false},
		{"Charset", c.Charset, "gbk"},
		{"Text", c.Text, page("", zhHans)},
		{"StartedAt zone", c.StartedAt.Location(), time.UTC},
		{"FetchedAt zone", c.FetchedAt.Location(), time.UTC},
		{"times in order", !c.StartedAt.Before(before.Truncate(time.Second)) && !c.FetchedAt.Before(c.StartedAt), true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.requests) != 2 {
		t.Fatalf("server got %d requests, want 2", len(srv.requests))
	}
	for _, r := range srv.requests {
		if r.Header.Get(fetchHeader) != "" {
			t.Errorf("internal header %s reached the server", fetchHeader)
		}
		if r.UserAgent() != wildwatch.DefaultUserAgent {
			t.Errorf("server saw User-Agent %q", r.UserAgent())
		}
	}
}

func TestFetchGzipAndRevisit(t *testing.T) {
	t.Parallel()
	const text = "<html><body><h1>Carved ivory tusk</h1></body></html>"
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write([]byte(text))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte(text))
		zw.Close()
	}))
	f := newFetcher(t, Config{})
	for i := range 2 {
		c, err := f.Fetch(t.Context(), localTarget(srv), srv.URL+"/same")
		if err != nil {
			t.Fatalf("Fetch %d: %v", i, err)
		}
		if string(c.Body) != text || c.Text != text || c.Charset != "utf-8" {
			t.Errorf("Fetch %d: body %q, text %q, charset %q", i, c.Body, c.Text, c.Charset)
		}
	}
	if got := srv.paths(); len(got) != 2 {
		t.Errorf("server was asked %v, want the same URL twice", got)
	}
}

func TestFetchStatus(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/status/"), "%d", &status)
		if ra := r.URL.Query().Get("retry_after"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "status page %d", status)
	}))
	tests := []struct {
		path       string
		retryable  bool
		retryAfter time.Duration
	}{
		{"/status/404", false, 0},
		{"/status/410", false, 0},
		{"/status/400", false, 0},
		{"/status/403", false, 0},
		{"/status/429?retry_after=120", true, 120 * time.Second},
		{"/status/429", true, 0},
		{"/status/500", true, 0},
		{"/status/503?retry_after=7", true, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			// A fetcher each: a 429 or 503 holds its host back.
			f := newFetcher(t, Config{})
			c, err := f.Fetch(t.Context(), localTarget(srv), srv.URL+tt.path)
			fe := fetchError(t, err)
			var status int
			fmt.Sscanf(strings.TrimPrefix(tt.path, "/status/"), "%d", &status)
			if fe.Kind != wildwatch.ErrKindHTTP || fe.Status != status || fe.Retryable != tt.retryable ||
				fe.RetryAfter != tt.retryAfter || IsRetryable(err) != tt.retryable {
				t.Errorf("error = %+v, want kind http, status %d, retryable %v, retry after %v", fe, status, tt.retryable, tt.retryAfter)
			}
			if c == nil {
				t.Fatal("no capture returned with the error")
			}
			wantBody := fmt.Sprintf("status page %d", status)
			if c.Status != status || string(c.Body) != wantBody {
				t.Errorf("capture status %d body %q, want %d %q", c.Status, c.Body, status, wantBody)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"30":                            30 * time.Second,
		"-5":                            0,
		"soon":                          0,
		"Sat, 01 Mar 2025 12:02:00 GMT": 2 * time.Minute,
		"Sat, 01 Mar 2025 11:00:00 GMT": 0,
		"99999999":                      24 * time.Hour,
	}
	for in, want := range tests {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFetchNetworkErrors(t *testing.T) {
	t.Parallel()
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		tg := wildwatch.Target{
			Name: "refused", AllowedHosts: []string{"127.0.0.1"},
			Politeness: wildwatch.Politeness{AllowPrivate: true},
		}
		_, err = newFetcher(t, Config{}).Fetch(t.Context(), tg, "http://"+addr+"/")
		fe := fetchError(t, err)
		if fe.Kind != wildwatch.ErrKindNetwork || !fe.Retryable || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("error = %v (%+v), want a retryable network error for a refused connection", err, fe)
		}
	})
	t.Run("name not found", func(t *testing.T) {
		t.Parallel()
		dnsErr := &net.DNSError{Err: "no such host", Name: "shop.example", IsNotFound: true}
		tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
			return nil, dnsErr
		}}
		t.Cleanup(tr.CloseIdleConnections)
		tg := wildwatch.Target{Name: "dns", AllowedHosts: []string{"shop.example"}}
		_, err := newFetcher(t, Config{Transport: tr}).Fetch(t.Context(), tg, "https://shop.example/")
		fe := fetchError(t, err)
		if fe.Kind != wildwatch.ErrKindNetwork || !fe.Retryable || !errors.As(err, &dnsErr) {
			t.Errorf("error = %v (%+v), want a retryable network error wrapping the DNS error", err, fe)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		done := make(chan struct{})
		srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-done:
			}
		}))
		t.Cleanup(func() { close(done) })
		tg := localTarget(srv, func(t *wildwatch.Target) { t.Limits.Timeout = wildwatch.Duration(100 * time.Millisecond) })
		_, err := newFetcher(t, Config{}).Fetch(t.Context(), tg, srv.URL+"/slow")
		fe := fetchError(t, err)
		if fe.Kind != wildwatch.ErrKindNetwork || !fe.Retryable {
			t.Errorf("error = %v (%+v), want a retryable network error", err, fe)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		t.Parallel()
		srv := newTestServer(t, http.NotFoundHandler())
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := newFetcher(t, Config{}).Fetch(ctx, localTarget(srv), srv.URL+"/")
		if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindNetwork || !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want a network error wrapping context.Canceled", err)
		}
		if p := srv.paths(); len(p) != 0 {
			t.Errorf("server was asked %v after the context ended", p)
		}
	})
	t.Run("bad URL and foreign host", func(t *testing.T) {
		t.Parallel()
		f := newFetcher(t, Config{})
		tg := wildwatch.Target{Name: "x", AllowedHosts: []string{"shop.example"}}
		for _, u := range []string{"/relative", "ftp://shop.example/", "https://other.example/"} {
			c, err := f.Fetch(t.Context(), tg, u)
			if fe := fetchError(t, err); c != nil || fe.Retryable {
				t.Errorf("Fetch(%q) = %v, %+v; want no capture and a final error", u, c, fe)
			}
		}
	})
}

func TestFetchBodyLimit(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789"), 500)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Query().Get("n"), "%d", &n)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(big[:n])
	}))
	f := newFetcher(t, Config{})
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Limits.MaxBodyBytes = 1000 })
	tests := []struct {
		n         int
		wantLen   int
		truncated bool
	}{
		{5000, 1000, true},
		{1001, 1000, true},
		{1000, 1000, false},
		{10, 10, false},
	}
	for _, tt := range tests {
		c, err := f.Fetch(t.Context(), tg, fmt.Sprintf("%s/?n=%d", srv.URL, tt.n))
		if err != nil {
			t.Fatalf("Fetch n=%d: %v", tt.n, err)
		}
		if len(c.Body) != tt.wantLen || c.Truncated != tt.truncated || !bytes.Equal(c.Body, big[:tt.wantLen]) {
			t.Errorf("n=%d: body %d bytes, truncated %v; want %d bytes, truncated %v", tt.n, len(c.Body), c.Truncated, tt.wantLen, tt.truncated)
		}
	}
}

func TestFetchRedirects(t *testing.T) {
	t.Parallel()
	var srv *testServer
	srv = newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		switch {
		case r.URL.Path == "/away":
			// Same server, but under a host name the target does not allow.
			http.Redirect(w, r, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/elsewhere", http.StatusFound)
		case r.URL.Path == "/ftp":
			http.Redirect(w, r, "ftp://"+srv.host()+"/file", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/r/"):
			fmt.Sscanf(r.URL.Path, "/r/%d", &n)
			if n == 0 {
				fmt.Fprint(w, "arrived")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusMovedPermanently)
		default:
			http.NotFound(w, r)
		}
	}))
	f := newFetcher(t, Config{})
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Limits.MaxRedirects = 2 })

	c, err := f.Fetch(t.Context(), tg, srv.URL+"/r/2")
	if err != nil {
		t.Fatalf("two redirects: %v", err)
	}
	if c.FinalURL != srv.URL+"/r/0" || string(c.Body) != "arrived" {
		t.Errorf("two redirects: final URL %s, body %q", c.FinalURL, c.Body)
	}

	asked := len(srv.paths())
	tests := []struct {
		path     string
		kind     string
		sentinel error
		never    string // path the server must not see
	}{
		{"/r/3", wildwatch.ErrKindHTTP, ErrTooManyRedirects, "/r/0"},
		{"/away", wildwatch.ErrKindGuard, ErrHostNotAllowed, "/elsewhere"},
		{"/ftp", wildwatch.ErrKindGuard, nil, "/file"},
	}
	for _, tt := range tests {
		_, err := f.Fetch(t.Context(), tg, srv.URL+tt.path)
		fe := fetchError(t, err)
		if fe.Kind != tt.kind || fe.Retryable || (tt.sentinel != nil && !errors.Is(err, tt.sentinel)) {
			t.Errorf("%s: error %v (%+v), want kind %s wrapping %v, not retryable", tt.path, err, fe, tt.kind, tt.sentinel)
		}
	}
	for _, p := range srv.paths()[asked:] {
		for _, tt := range tests {
			if p == tt.never {
				t.Errorf("server was asked for %s", p)
			}
		}
	}
}

func TestRobots(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
		default:
			fmt.Fprint(w, "<h1>page</h1>")
		}
	}))
	f := newFetcher(t, Config{})
	obey := localTarget(srv, func(t *wildwatch.Target) { t.Politeness.ObeyRobots = nil })

	_, err := f.Fetch(t.Context(), obey, srv.URL+"/private/item?id=1")
	fe := fetchError(t, err)
	if fe.Kind != wildwatch.ErrKindRobots || fe.Retryable || !errors.Is(err, ErrRobots) {
		t.Errorf("disallowed fetch: error %v (%+v), want robots, not retryable", err, fe)
	}
	if _, err := f.Fetch(t.Context(), obey, srv.URL+"/public"); err != nil {
		t.Errorf("allowed fetch: %v", err)
	}
	if _, err := f.Fetch(t.Context(), obey, srv.URL+"/private/other"); err == nil {
		t.Error("second disallowed fetch: no error")
	}
	if got, want := strings.Join(srv.paths(), " "), "/robots.txt /public"; got != want {
		t.Errorf("server was asked %q, want %q (robots.txt once, nothing private)", got, want)
	}

	ignore := localTarget(srv) // robots.txt off
	if _, err := f.Fetch(t.Context(), ignore, srv.URL+"/private/item?id=1"); err != nil {
		t.Errorf("fetch with robots.txt off: %v", err)
	}
	if p := srv.paths(); p[len(p)-1] != "/private/item?id=1" {
		t.Errorf("with robots.txt off the server was asked %v", p)
	}
}

func TestRobotsUnavailable(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	robotsAnswers := []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK}
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/robots.txt" {
			fmt.Fprint(w, "<h1>page</h1>")
			return
		}
		mu.Lock()
		status := robotsAnswers[0]
		robotsAnswers = robotsAnswers[1:]
		mu.Unlock()
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(status)
		fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
	}))
	// A limiter that does not back off, so that each answer is seen.
	f := newFetcher(t, Config{Limiter: struct{ Limiter }{&HostLimiter{}}})
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Politeness.ObeyRobots = nil })
	for _, status := range []int{503, 429} {
		c, err := f.Fetch(t.Context(), tg, srv.URL+"/page")
		fe := fetchError(t, err)
		if c != nil || fe.Kind != wildwatch.ErrKindHTTP || fe.Status != status || !fe.Retryable ||
			fe.RetryAfter != 30*time.Second || fe.URL != srv.URL+"/page" {
			t.Errorf("robots.txt answering %d: capture %v, error %v (%+v), want a retryable http error", status, c, err, fe)
		}
	}
	if _, err := f.Fetch(t.Context(), tg, srv.URL+"/page"); err != nil {
		t.Errorf("robots.txt answering 200: %v", err)
	}
	if got, want := strings.Join(srv.paths(), " "), "/robots.txt /robots.txt /robots.txt /page"; got != want {
		t.Errorf("server was asked %q, want %q", got, want)
	}
}

// TestFetchBacksOff checks that a host answering 429 or 503 is not asked
// again before its Retry-After has passed: the next fetch fails at once,
// retryable after the time left, without a request.
func TestFetchBacksOff(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/busy" {
					w.Header().Set("Retry-After", "600")
					w.WriteHeader(status)
				}
				fmt.Fprint(w, "<h1>page</h1>")
			}))
			f := newFetcher(t, Config{})
			_, err := f.Fetch(t.Context(), localTarget(srv), srv.URL+"/busy")
			if fe := fetchError(t, err); fe.Status != status || fe.RetryAfter != 10*time.Minute {
				t.Fatalf("first fetch: %+v, want status %d, retry after 10m", fe, status)
			}
			asked := len(srv.paths())
			c, err := f.Fetch(t.Context(), localTarget(srv), srv.URL+"/other")
			fe := fetchError(t, err)
			if c != nil || fe.Kind != wildwatch.ErrKindThrottled || !fe.Retryable ||
				fe.RetryAfter <= 9*time.Minute || fe.RetryAfter > 10*time.Minute {
				t.Errorf("second fetch: capture %v, error %+v, want throttled, retryable after about 10m", c, fe)
			}
			if p := srv.paths(); len(p) != asked {
				t.Errorf("the host was asked %v while backing off", p[asked:])
			}
		})
	}
}

// blockingLimiter never lets a request go; it records who asked.
type blockingLimiter struct {
	mu    sync.Mutex
	hosts []string
}

func (l *blockingLimiter) Acquire(ctx context.Context, host string, _ LimitRule) (func(), error) {
	l.mu.Lock()
	l.hosts = append(l.hosts, host)
	l.mu.Unlock()
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

// TestFetchLimiterWaitEnds checks that a Fetch stuck behind the limiter,
// on its robots.txt request, ends with the Fetcher's MaxLimiterWait.
func TestFetchLimiterWaitEnds(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, http.NotFoundHandler())
	lim := &blockingLimiter{}
	f := newFetcher(t, Config{Limiter: lim, MaxLimiterWait: 50 * time.Millisecond})
	tg := localTarget(srv, func(t *wildwatch.Target) {
		t.Politeness.ObeyRobots = nil
	})
	_, err := f.Fetch(t.Context(), tg, srv.URL+"/page")
	if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindThrottled || !fe.Retryable || !errors.Is(err, ErrLimiterWait) {
		t.Errorf("error %v (%+v), want a retryable throttled error wrapping ErrLimiterWait", err, fe)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if want := strings.TrimPrefix(srv.URL, "http://"); len(lim.hosts) != 1 || lim.hosts[0] != want {
		t.Errorf("limiter was asked for %v, want [%s] once", lim.hosts, want)
	}
	if p := srv.paths(); len(p) != 0 {
		t.Errorf("server was asked %v past the limiter", p)
	}
}
