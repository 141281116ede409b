package crawler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Limiter decides when a request to a host may start. Acquire blocks until
// the request may be sent, or ctx ends, and returns a release func to call
// once the response has been read. The local HostLimiter works inside one
// process; a limiter shared through Redis can replace it to bound all
// workers together.
type Limiter interface {
	Acquire(ctx context.Context, host string, rule LimitRule) (release func(), err error)
}

// A Backoffer is a Limiter that can hold a host back when it asks for a
// pause (a 429 or 503, with or without Retry-After): no request to the host
// starts until d from now.
type Backoffer interface {
	Backoff(ctx context.Context, host string, d time.Duration) error
}

// DefaultBackoff is how long a host that answers 429 or 503 without a
// Retry-After is left alone.
const DefaultBackoff = 30 * time.Second

// MaxBackoff bounds the pause a host's Retry-After can ask for.
const MaxBackoff = time.Hour

// MaxBackoffWait is the longest a request waits for a host's pause to end;
// a longer pause fails the request at once with a *BackoffError, so that a
// worker is not held and the task is retried when the pause is over.
const MaxBackoffWait = 5 * time.Second

// BackoffError reports a host that asked for a pause (429 or 503) ending
// more than MaxBackoffWait from now. The request was not sent.
type BackoffError struct {
	Host      string
	Remaining time.Duration
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%s asked for a pause; %s of it left", e.Host, e.Remaining.Round(time.Millisecond))
}

// LimitRule is the politeness asked for one host.
type LimitRule struct {
	// RequestsPerSecond spaces the starts of requests; zero or negative
	// means no spacing.
	RequestsPerSecond float64
	// Concurrency bounds the requests in flight; zero or negative means one.
	Concurrency int
}

// interval is the least time between two request starts.
func (r LimitRule) interval() time.Duration {
	if r.RequestsPerSecond <= 0 || math.IsInf(r.RequestsPerSecond, 1) || math.IsNaN(r.RequestsPerSecond) {
		return 0
	}
	return time.Duration(float64(time.Second) / r.RequestsPerSecond)
}

// HostLimiter is the in-process Limiter: per host, at most Concurrency
// requests in flight and request starts at least 1/RequestsPerSecond apart.
// It keeps a few bytes for every host it has seen, which the allowed hosts
// of the targets bound. The zero value is ready to use.
type HostLimiter struct {
	mu    sync.Mutex
	hosts map[string]*hostState
}

var (
	_ Limiter   = (*HostLimiter)(nil)
	_ Backoffer = (*HostLimiter)(nil)
)

// Backoff implements Backoffer.
func (l *HostLimiter) Backoff(_ context.Context, host string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.state(host)
	if until := time.Now().Add(d); until.After(h.backoff) {
		h.backoff = until
	}
	return nil
}

type hostState struct {
	// backoff is when the host's asked-for pause ends.
	backoff  time.Time
	inFlight int
	// next is the earliest start of the next request.
	next time.Time
	// freed is closed and replaced whenever a request in flight ends.
	freed chan struct{}
}

// Acquire implements Limiter.
func (l *HostLimiter) Acquire(ctx context.Context, host string, rule LimitRule) (func(), error) {
	limit := max(rule.Concurrency, 1)
	l.mu.Lock()
	h := l.state(host)
	if left := time.Until(h.backoff); left > MaxBackoffWait {
		l.mu.Unlock()
		return nil, &BackoffError{Host: host, Remaining: left}
	}
	for h.inFlight >= limit {
		freed := h.freed
		l.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		l.mu.Lock()
	}
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return nil, context.Cause(ctx)
	}
	h.inFlight++
	now := time.Now()
	start := now
	if h.next.After(now) {
		start = h.next
	}
	if h.backoff.After(start) {
		start = h.backoff
	}
	if iv := rule.interval(); iv > 0 {
		h.next = start.Add(iv)
	}
	l.mu.Unlock()

	var once sync.Once
	release := func() {
		once.Do(func() {
			l.mu.Lock()
			h.inFlight--
			close(h.freed)
			h.freed = make(chan struct{})
			l.mu.Unlock()
		})
	}
	if wait := time.Until(start); wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			release()
			return nil, context.Cause(ctx)
		}
	}
	return release, nil
}

func (l *HostLimiter) state(host string) *hostState {
	if l.hosts == nil {
		l.hosts = make(map[string]*hostState)
	}
	h, ok := l.hosts[host]
	if !ok {
		h = &hostState{freed: make(chan struct{})}
		l.hosts[host] = h
	}
	return h
}

// DefaultMaxLimiterWait is Config.MaxLimiterWait when it is zero.
const DefaultMaxLimiterWait = 2 * time.Minute

// ErrLimiterWait reports a request that did not get its turn at the
// host's limiter within the Fetcher's MaxLimiterWait. It was not sent, so
// trying again later fetches the page once.
var ErrLimiterWait = errors.New("no turn at the host's politeness limiter in time")

// acquire waits for host's turn at the limiter for at most the Fetcher's
// MaxLimiterWait, or until ctx ends. The wait is bounded apart from the
// request's timeout, which starts once the turn is held: a long queue at
// a polite host must not time a request out that it then sends again.
func (f *Fetcher) acquire(ctx context.Context, host string, rule LimitRule) (func(), error) {
	wctx, cancel := context.WithTimeoutCause(ctx, f.maxWait, fmt.Errorf("%w (waited %s)", ErrLimiterWait, f.maxWait))
	defer cancel()
	release, err := f.limiter.Acquire(wctx, host, rule)
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			// The wait's own bound, not the caller's context, ended it.
			err = context.Cause(wctx)
		}
		return nil, fmt.Errorf("waiting for %s: %w", host, err)
	}
	return release, nil
}
