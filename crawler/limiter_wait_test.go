package crawler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/redistest"
)

// TestFetchTimeoutStartsAtTurn: a fetch that waits for its turn at the
// host's limiter longer than the target's request timeout is not timed
// out by the wait; it is sent once its turn comes and asked for once, with
// the in-process and the Redis limiter alike.
func TestFetchTimeoutStartsAtTurn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		limiter func(t *testing.T) Limiter
	}{
		{"memory", func(*testing.T) Limiter { return &HostLimiter{} }},
		{"redis", func(t *testing.T) Limiter {
			c, prefix := redistest.New(t)
			return &RedisLimiter{Client: c, Prefix: prefix, Poll: 20 * time.Millisecond}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var arrivals []time.Time
			srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				arrivals = append(arrivals, time.Now())
				mu.Unlock()
				fmt.Fprint(w, "<h1>ok</h1>")
			}))
			f := newFetcher(t, Config{Limiter: tc.limiter(t)})
			const interval = 600 * time.Millisecond
			tg := localTarget(srv, func(t *wildwatch.Target) {
				t.Politeness.RequestsPerSecond = float64(time.Second) / float64(interval)
				t.Politeness.Concurrency = 1
				// Shorter than the wait for the second request's turn.
				t.Limits.Timeout = wildwatch.Duration(interval / 3)
			})
			for i := range 2 {
				if _, err := f.Fetch(t.Context(), tg, srv.URL+"/page"); err != nil {
					t.Fatalf("fetch %d: %v", i+1, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if p := srv.paths(); len(p) != 2 {
				t.Fatalf("server was asked %v, want /page twice", p)
			}
			// The limiter did space them: the wait happened, and did not count.
			if gap := arrivals[1].Sub(arrivals[0]); gap < interval-50*time.Millisecond {
				t.Errorf("second request came %s after the first, want at least %s", gap, interval)
			}
		})
	}
}

// TestFetchLimiterWaitBounded: a fetch that gets no turn at the limiter
// within MaxLimiterWait fails unsent with a retryable throttled error, even
// with a long request timeout.
func TestFetchLimiterWaitBounded(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, http.NotFoundHandler())
	lim := &blockingLimiter{}
	f := newFetcher(t, Config{Limiter: lim, MaxLimiterWait: 50 * time.Millisecond})
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Limits.Timeout = wildwatch.Duration(time.Hour) })
	// Bounded, so that a wait the Fetcher does not bound fails the test.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := f.Fetch(ctx, tg, srv.URL+"/page")
	if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindThrottled || !fe.Retryable || !errors.Is(err, ErrLimiterWait) {
		t.Errorf("error %v (%+v), want a retryable throttled error wrapping ErrLimiterWait", err, fe)
	}
	if p := srv.paths(); len(p) != 0 {
		t.Errorf("server was asked %v past the limiter", p)
	}
}

// TestFetchTimeoutSpansRedirects: the request timeout is one budget for a
// page and its redirects, spent only while a request holds its turn.
func TestFetchTimeoutSpansRedirects(t *testing.T) {
	t.Parallel()
	const hop = 150 * time.Millisecond
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(hop)
		if n := strings.Count(r.URL.Path, "/r"); n < 3 {
			http.Redirect(w, r, r.URL.Path+"/r", http.StatusFound)
			return
		}
		fmt.Fprint(w, "<h1>ok</h1>")
	}))
	f := newFetcher(t, Config{})
	// Each hop alone fits in the timeout; the four together do not.
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Limits.Timeout = wildwatch.Duration(2 * hop) })
	_, err := f.Fetch(t.Context(), tg, srv.URL+"/a")
	if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindNetwork || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v (%+v), want the request timeout across redirects", err, fe)
	}
	if p := srv.paths(); len(p) > 3 {
		t.Errorf("server was asked %v after the timeout was spent", p)
	}
}
