package crawler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// limitEvents records what an ObservedLimiter reports.
type limitEvents struct {
	mu                    sync.Mutex
	waited, held          []time.Duration
	refused, backedOff    []time.Duration
	waitHosts, heldHosts  []string
	refusedHosts, offHost []string
}

func (e *limitEvents) LimiterWaited(host string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.waited, e.waitHosts = append(e.waited, d), append(e.waitHosts, host)
}

func (e *limitEvents) LimiterHeld(host string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.held, e.heldHosts = append(e.held, d), append(e.heldHosts, host)
}

func (e *limitEvents) LimiterRefused(host string, left time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refused, e.refusedHosts = append(e.refused, left), append(e.refusedHosts, host)
}

func (e *limitEvents) HostBackedOff(host string, d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.backedOff, e.offHost = append(e.backedOff, d), append(e.offHost, host)
}

func TestObservedLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var ev limitEvents
	l := &ObservedLimiter{Limiter: &HostLimiter{}, Observer: &ev}
	rule := LimitRule{RequestsPerSecond: 20, Concurrency: 2}

	r1, err := l.Acquire(ctx, "a.example", rule)
	if err != nil {
		t.Fatal(err)
	}
	// The second start is spaced from the first: it waits.
	r2, err := l.Acquire(ctx, "a.example", rule)
	if err != nil {
		t.Fatal(err)
	}
	r1()
	r1() // a second release is not reported again
	r2()
	if len(ev.waited) != 2 || ev.waited[1] <= 0 {
		t.Errorf("waits %v; want two, the second one longer than zero", ev.waited)
	}
	if len(ev.held) != 2 || ev.heldHosts[0] != "a.example" {
		t.Errorf("held %v on %v; want two on a.example", ev.held, ev.heldHosts)
	}

	// A pause asked for is reported and passed on; the next request is
	// refused at once, and that is reported too.
	if err := l.Backoff(ctx, "b.example", time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err = l.Acquire(ctx, "b.example", rule)
	var be *BackoffError
	if !errors.As(err, &be) {
		t.Fatalf("Acquire after a backoff: %v, want a *BackoffError", err)
	}
	if len(ev.backedOff) != 1 || ev.backedOff[0] != time.Hour || ev.offHost[0] != "b.example" {
		t.Errorf("backoffs %v on %v; want 1h on b.example", ev.backedOff, ev.offHost)
	}
	if len(ev.refused) != 1 || ev.refused[0] <= MaxBackoffWait || ev.refusedHosts[0] != "b.example" {
		t.Errorf("refusals %v on %v; want one on b.example, more than %v left", ev.refused, ev.refusedHosts, MaxBackoffWait)
	}
	if len(ev.waited) != 2 {
		t.Errorf("a refused request was reported as waited: %v", ev.waited)
	}

	// A cancelled wait is neither a wait nor a refusal.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Acquire(cctx, "c.example", rule); err == nil {
		t.Fatal("Acquire with a cancelled context succeeded")
	}
	if len(ev.waited) != 2 || len(ev.refused) != 1 {
		t.Errorf("a cancelled request was reported: waits %v, refusals %v", ev.waited, ev.refused)
	}
}

// noBackoff is a Limiter that cannot back a host off.
type noBackoff struct{ l HostLimiter }

func (n *noBackoff) Acquire(ctx context.Context, host string, rule LimitRule) (func(), error) {
	return n.l.Acquire(ctx, host, rule)
}

func TestObservedLimiterWithoutBackoffer(t *testing.T) {
	t.Parallel()
	var ev limitEvents
	var inner Limiter = &noBackoff{}
	if _, ok := inner.(Backoffer); ok {
		t.Fatal("the test limiter is a Backoffer")
	}
	l := &ObservedLimiter{Limiter: inner, Observer: &ev}
	if err := l.Backoff(context.Background(), "a.example", time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(ev.backedOff) != 1 {
		t.Errorf("backoff not reported: %v", ev.backedOff)
	}
	release, err := l.Acquire(context.Background(), "a.example", LimitRule{})
	if err != nil {
		t.Fatalf("the wrapped limiter knows no backoff, yet: %v", err)
	}
	release()
}
