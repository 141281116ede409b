package crawler

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// TestPolitenessRate records when requests reach the server: with 5
// requests per second and one in flight, starts are about 200ms apart, the
// robots.txt request included.
func TestPolitenessRate(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		arrivals []time.Time
		inFlight int
		most     int
	)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		fmt.Fprint(w, "<h1>item</h1>")
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) {
		t.Politeness.RequestsPerSecond = 5
		t.Politeness.Concurrency = 1
		t.Politeness.ObeyRobots = nil
	})
	f := newFetcher(t, Config{})
	const n = 7
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := f.Fetch(t.Context(), tg, fmt.Sprintf("%s/item/%d", srv.URL, i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Fetch: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != n+1 {
		t.Fatalf("server got %d requests, want %d (robots.txt and %d pages)", len(arrivals), n+1, n)
	}
	slices.SortFunc(arrivals, func(a, b time.Time) int { return a.Compare(b) })
	// A late arrival (a busy machine) shortens the gap after it but not the
	// span of the whole run: at 5 requests per second, n+1 requests take at
	// least n/5 seconds, less the first interval the limiter may let go at
	// once.
	span := arrivals[len(arrivals)-1].Sub(arrivals[0])
	if want := time.Duration(n-1) * 200 * time.Millisecond; span < want {
		t.Errorf("%d requests arrived within %v, want at least %v at 5 per second", len(arrivals), span, want)
	}
	if most != 1 {
		t.Errorf("%d requests were in flight at once, want 1", most)
	}
}

// TestPolitenessConcurrency holds each request at the server until two are
// in flight, and checks that no more than two ever are.
func TestPolitenessConcurrency(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		inFlight int
		most     int
		pair     = make(chan struct{})
	)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		wait := pair
		if inFlight >= 2 {
			close(pair)
			pair = make(chan struct{})
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		select {
		case <-wait:
		case <-timer.C:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "<h1>item</h1>")
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Politeness.Concurrency = 2 })
	f := newFetcher(t, Config{})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := f.Fetch(t.Context(), tg, fmt.Sprintf("%s/item/%d", srv.URL, i)); err != nil {
				t.Errorf("Fetch: %v", err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if most != 2 {
		t.Errorf("at most %d requests were in flight, want exactly 2", most)
	}
}

func TestHostLimiter(t *testing.T) {
	t.Parallel()
	t.Run("ended context", func(t *testing.T) {
		t.Parallel()
		var l HostLimiter
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := l.Acquire(ctx, "a.example", LimitRule{Concurrency: 1}); err == nil {
			t.Error("Acquire with an ended context: no error")
		}
	})
	t.Run("waiting for a slot ends with the context", func(t *testing.T) {
		t.Parallel()
		var l HostLimiter
		rule := LimitRule{Concurrency: 1, RequestsPerSecond: -1}
		release, err := l.Acquire(t.Context(), "a.example", rule)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := l.Acquire(ctx, "a.example", rule)
			done <- err
		}()
		// Another host is not held up.
		other, err := l.Acquire(t.Context(), "b.example", rule)
		if err != nil {
			t.Fatal(err)
		}
		other()
		cancel()
		if err := <-done; err == nil {
			t.Error("Acquire waiting for a slot: no error after cancel")
		}
		release()
		release() // twice is harmless
		again, err := l.Acquire(t.Context(), "a.example", rule)
		if err != nil {
			t.Fatalf("Acquire after release: %v", err)
		}
		again()
	})
	t.Run("waiting for the rate ends with the context", func(t *testing.T) {
		t.Parallel()
		var l HostLimiter
		rule := LimitRule{Concurrency: 4, RequestsPerSecond: 0.001}
		release, err := l.Acquire(t.Context(), "a.example", rule)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			_, err := l.Acquire(ctx, "a.example", rule)
			done <- err
		}()
		cancel()
		if err := <-done; err == nil {
			t.Error("Acquire waiting 1000s for its turn: no error after cancel")
		}
	})
	t.Run("slot handed on", func(t *testing.T) {
		t.Parallel()
		var l HostLimiter
		rule := LimitRule{Concurrency: 1, RequestsPerSecond: -1}
		release, err := l.Acquire(t.Context(), "a.example", rule)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan func())
		go func() {
			r, err := l.Acquire(t.Context(), "a.example", rule)
			if err != nil {
				t.Error(err)
			}
			got <- r
		}()
		release()
		(<-got)()
	})
}
