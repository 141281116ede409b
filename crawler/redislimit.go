package crawler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLimiter is a Limiter shared by every process that uses the same
// Redis: per host, at most Concurrency requests in flight and request
// starts at least 1/RequestsPerSecond apart, across all workers on all
// machines. Times come from the Redis server's clock, so the machines'
// clocks need not agree.
//
// A request in flight holds a lease that expires LeaseTTL after it was
// last renewed; the process renews it every LeaseTTL/3 until the request
// is done, so the slots of a worker that dies come back within LeaseTTL
// while a slow request keeps its own.
type RedisLimiter struct {
	Client redis.UniversalClient
	// Prefix starts every key (default "wildwatch:limit:").
	Prefix string
	// LeaseTTL is how long a slot stays taken after its process stopped
	// renewing it (default 15s).
	LeaseTTL time.Duration
	// Poll is the longest wait between two tries for a free slot (default
	// 250ms); tries start faster and back off to it.
	Poll time.Duration
}

// DefaultLeaseTTL is RedisLimiter.LeaseTTL when it is zero.
const DefaultLeaseTTL = 15 * time.Second

var (
	_ Limiter   = (*RedisLimiter)(nil)
	_ Backoffer = (*RedisLimiter)(nil)
)

// acquireScript takes a slot for one request if one is free. KEYS: next
// start, leases (sorted set of lease → expiry), backoff. ARGV: concurrency,
// interval in µs, lease TTL in µs, lease id, longest wait for a backoff in
// µs. It returns {0, µs to wait before the request may start}, {1, 0} when
// every slot is taken, or {2, µs left} when the host's backoff ends later
// than the longest wait.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local back = tonumber(redis.call('GET', KEYS[3]) or '0')
if back > now + tonumber(ARGV[5]) then
  return {2, back - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  return {1, 0}
end
local start = now
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > start then start = nxt end
if back > start then start = back end
local interval = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local keep = math.floor((start - now + interval) / 1000) + 60000
redis.call('SET', KEYS[1], start + interval, 'PX', keep)
redis.call('ZADD', KEYS[2], start + ttl, ARGV[4])
redis.call('PEXPIRE', KEYS[2], math.floor((start - now + ttl) / 1000) + 1000)
return {0, start - now}
`)

// backoffScript moves a host's backoff to ARGV[1] µs from now unless it is
// later already. KEYS: backoff.
var backoffScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untilT = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilT > cur then
  redis.call('SET', KEYS[1], untilT, 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
`)

func (l *RedisLimiter) keys(host string) []string {
	p := l.Prefix
	if p == "" {
		p = "wildwatch:limit:"
	}
	// The braces keep a host's keys in one Redis Cluster slot.
	base := p + "{" + host + "}:"
	return []string{base + "next", base + "leases", base + "backoff"}
}

// Acquire implements Limiter.
func (l *RedisLimiter) Acquire(ctx context.Context, host string, rule LimitRule) (func(), error) {
	if l.Client == nil {
		return nil, errors.New("redis limiter: no client")
	}
	ttl := l.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	poll := l.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	keys := l.keys(host)
	lease := newLeaseID()
	args := []any{max(rule.Concurrency, 1), rule.interval().Microseconds(), ttl.Microseconds(), lease, MaxBackoffWait.Microseconds()}
	wait := 5 * time.Millisecond
	for {
		v, err := acquireScript.Run(ctx, l.Client, keys, args...).Int64Slice()
		if err == nil && len(v) != 2 {
			err = fmt.Errorf("unexpected answer %v", v)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, fmt.Errorf("redis limiter for %s: %w", host, err)
		}
		switch v[0] {
		case 0:
			release := l.releaser(keys[1], lease, ttl)
			if err := sleep(ctx, time.Duration(v[1])*time.Microsecond); err != nil {
				release()
				return nil, err
			}
			return release, nil
		case 2:
			return nil, &BackoffError{Host: host, Remaining: time.Duration(v[1]) * time.Microsecond}
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		wait = min(2*wait, poll)
	}
}

// renewScript pushes a lease's expiry to ARGV[2] µs from now, if the
// lease is still held. KEYS: leases. ARGV: lease id, TTL in µs.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(ARGV[2]) / 1000) + 1000)
end
return 0
`)

// releaser renews the lease every ttl/3 until the returned func is called,
// which gives the lease back, once.
func (l *RedisLimiter) releaser(leases, lease string, ttl time.Duration) func() {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
				// A failed renewal is tried again at the next tick; the
				// lease lapses only if renewals fail for a whole TTL.
				err := renewScript.Run(ctx, l.Client, []string{leases}, lease, ttl.Microseconds()).Err()
				cancel()
				if errors.Is(err, redis.ErrClosed) {
					return // the process is shutting down; the lease lapses
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			// A release that fails leaves the lease to expire.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l.Client.ZRem(ctx, leases, lease)
		})
	}
}

// Backoff holds every request to host, from every process, until d from
// now (by the Redis server's clock), or later if a longer backoff is set.
func (l *RedisLimiter) Backoff(ctx context.Context, host string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := backoffScript.Run(ctx, l.Client, l.keys(host)[2:], d.Microseconds()).Err(); err != nil {
		return fmt.Errorf("redis limiter backoff for %s: %w", host, err)
	}
	return nil
}

func newLeaseID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
