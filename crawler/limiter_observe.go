package crawler

import (
	"context"
	"errors"
	"sync"
	"time"
)

// A LimiterObserver is told what a Limiter does, for metrics. host is the
// limiter's key: the lower-cased host[:port] of the request. Its methods are
// called on the request path and must return at once.
type LimiterObserver interface {
	// LimiterWaited reports a request that got its turn after waiting d
	// (zero when it went at once).
	LimiterWaited(host string, d time.Duration)
	// LimiterHeld reports a request that held its turn for d: from being
	// sent to having been read, or to the browser taking the response.
	LimiterHeld(host string, d time.Duration)
	// LimiterRefused reports a request refused at once because the host
	// asked for a pause, of which left remains (a *BackoffError).
	LimiterRefused(host string, left time.Duration)
	// HostBackedOff reports a host that asked for a pause of d (a 429 or
	// 503 answer).
	HostBackedOff(host string, d time.Duration)
}

// ObservedLimiter is a Limiter that reports to an observer what the
// Limiter it wraps does. It is a Backoffer; when the wrapped Limiter is not
// one, Backoff is reported and does nothing else.
type ObservedLimiter struct {
	Limiter  Limiter
	Observer LimiterObserver
}

var (
	_ Limiter   = (*ObservedLimiter)(nil)
	_ Backoffer = (*ObservedLimiter)(nil)
)

// Acquire implements Limiter.
func (l *ObservedLimiter) Acquire(ctx context.Context, host string, rule LimitRule) (func(), error) {
	start := time.Now()
	release, err := l.Limiter.Acquire(ctx, host, rule)
	if err != nil {
		var be *BackoffError
		if errors.As(err, &be) {
			l.Observer.LimiterRefused(host, be.Remaining)
		}
		return nil, err
	}
	got := time.Now()
	l.Observer.LimiterWaited(host, got.Sub(start))
	var once sync.Once
	return func() {
		once.Do(func() {
			l.Observer.LimiterHeld(host, time.Since(got))
			release()
		})
	}, nil
}

// Backoff implements Backoffer.
func (l *ObservedLimiter) Backoff(ctx context.Context, host string, d time.Duration) error {
	l.Observer.HostBackedOff(host, d)
	if b, ok := l.Limiter.(Backoffer); ok {
		return b.Backoff(ctx, host, d)
	}
	return nil
}
