package crawler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch/internal/redistest"
)

// processes returns n limiters on n clients of one Redis, sharing a prefix:
// what n worker processes hold.
func processes(t *testing.T, n int, ttl time.Duration) []*RedisLimiter {
	t.Helper()
	first, prefix := redistest.New(t)
	ls := []*RedisLimiter{{Client: first, Prefix: prefix, LeaseTTL: ttl, Poll: 20 * time.Millisecond}}
	for len(ls) < n {
		ls = append(ls, &RedisLimiter{Client: redistest.NewClient(t), Prefix: prefix, LeaseTTL: ttl, Poll: 20 * time.Millisecond})
	}
	return ls
}

func TestRedisLimiterConcurrencyAcrossProcesses(t *testing.T) {
	t.Parallel()
	ls := processes(t, 3, time.Minute)
	const limit, perProcess = 2, 8
	var inFlight, most, done atomic.Int64
	var wg sync.WaitGroup
	for _, l := range ls {
		for range perProcess {
			wg.Go(func() {
				release, err := l.Acquire(t.Context(), "shop.example", LimitRule{Concurrency: limit})
				if err != nil {
					t.Error(err)
					return
				}
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(10 * time.Millisecond)
				inFlight.Add(-1)
				release()
				done.Add(1)
			})
		}
	}
	wg.Wait()
	if most.Load() > limit {
		t.Errorf("%d requests in flight at once, limit %d", most.Load(), limit)
	}
	if done.Load() != 3*perProcess {
		t.Errorf("%d of %d requests done", done.Load(), 3*perProcess)
	}
	// Other hosts are not held back by this one.
	release, err := ls[0].Acquire(t.Context(), "other.example", LimitRule{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	release()
}

func TestRedisLimiterRateAcrossProcesses(t *testing.T) {
	t.Parallel()
	ls := processes(t, 3, time.Minute)
	const perSecond, perProcess = 20, 4
	interval := time.Second / perSecond
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range ls {
		for range perProcess {
			wg.Go(func() {
				release, err := l.Acquire(t.Context(), "shop.example", LimitRule{RequestsPerSecond: perSecond, Concurrency: 100})
				if err != nil {
					t.Error(err)
					return
				}
				release()
			})
		}
	}
	wg.Wait()
	// Twelve starts at least 50ms apart on the server's clock take at least
	// eleven intervals, however the processes interleave; a slow machine
	// only makes it longer.
	if elapsed, least := time.Since(start), time.Duration(3*perProcess-1)*interval; elapsed < least-time.Millisecond {
		t.Errorf("%d requests at %d/s took %v, want at least %v", 3*perProcess, perSecond, elapsed, least)
	}
}

func TestRedisLimiterLeaseOfADeadWorkerExpires(t *testing.T) {
	t.Parallel()
	ls := processes(t, 2, 300*time.Millisecond)
	// The first process takes the only slot and dies without releasing it:
	// its connection to Redis goes, and its renewals with it.
	dead, err := ls[0].Acquire(t.Context(), "shop.example", LimitRule{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer dead()
	ls[0].Client.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	release, err := ls[1].Acquire(ctx, "shop.example", LimitRule{Concurrency: 1})
	if err != nil {
		t.Fatalf("the slot never came back: %v", err)
	}
	release()
	if waited := time.Since(begin); waited < 250*time.Millisecond {
		t.Errorf("got the slot after %v, before the lease expired", waited)
	}
}

func TestRedisLimiterCancelledWaitFreesNothing(t *testing.T) {
	t.Parallel()
	ls := processes(t, 2, time.Minute)
	hold, err := ls[0].Acquire(t.Context(), "shop.example", LimitRule{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := ls[1].Acquire(ctx, "shop.example", LimitRule{Concurrency: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with every slot taken = %v, want the context's deadline", err)
	}
	hold()
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	release, err := ls[1].Acquire(ctx, "shop.example", LimitRule{Concurrency: 1})
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	release()
}

func TestLimiterBackoff(t *testing.T) {
	t.Parallel()
	rl := processes(t, 2, time.Minute)
	for _, tc := range []struct {
		name    string
		set, by Limiter
	}{
		{"redis, across processes", rl[0], rl[1]},
		{"in process", &HostLimiter{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			by := tc.by
			if by == nil {
				by = tc.set
			}
			const pause = 400 * time.Millisecond
			begin := time.Now()
			if err := tc.set.(Backoffer).Backoff(t.Context(), "shop.example", pause); err != nil {
				t.Fatal(err)
			}
			release, err := by.Acquire(t.Context(), "shop.example", LimitRule{Concurrency: 1})
			if err != nil {
				t.Fatal(err)
			}
			release()
			if waited := time.Since(begin); waited < pause-time.Millisecond {
				t.Errorf("request started %v after a backoff of %v", waited, pause)
			}
			// A shorter backoff does not cut a longer one short.
			tc.set.(Backoffer).Backoff(t.Context(), "shop.example", pause)
			tc.set.(Backoffer).Backoff(t.Context(), "shop.example", time.Millisecond)
			begin = time.Now()
			release, err = by.Acquire(t.Context(), "shop.example", LimitRule{Concurrency: 1})
			if err != nil {
				t.Fatal(err)
			}
			release()
			if waited := time.Since(begin); waited < pause/2 {
				t.Errorf("a 1ms backoff after a %v one let a request start after %v", pause, waited)
			}
			// A pause longer than a request should wait fails at once.
			tc.set.(Backoffer).Backoff(t.Context(), "shop.example", time.Minute)
			_, err = by.Acquire(t.Context(), "shop.example", LimitRule{Concurrency: 1})
			var be *BackoffError
			if !errors.As(err, &be) || be.Host != "shop.example" || be.Remaining <= 50*time.Second || be.Remaining > time.Minute {
				t.Errorf("Acquire during a 1m backoff = %v, want a BackoffError with about 1m left", err)
			}
		})
	}
}

func TestRedisLimiterRenewsAHeldLease(t *testing.T) {
	t.Parallel()
	const ttl = 300 * time.Millisecond
	ls := processes(t, 2, ttl)
	release, err := ls[0].Acquire(t.Context(), "shop.example", LimitRule{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Held for more than three TTLs, the slot stays taken.
	ctx, cancel := context.WithTimeout(t.Context(), 4*ttl)
	defer cancel()
	if _, err := ls[1].Acquire(ctx, "shop.example", LimitRule{Concurrency: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while the slot is held and renewed = %v, want the context's deadline", err)
	}
	release()
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r2, err := ls[1].Acquire(ctx, "shop.example", LimitRule{Concurrency: 1})
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	r2()
}
