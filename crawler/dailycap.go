package crawler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wildwatch/wildwatch"
)

// A RequestCounter counts the requests made for each target per UTC day,
// for the targets' Politeness.DailyRequests: MemoryRequestCounter within a
// process, RedisRequestCounter across processes.
type RequestCounter interface {
	// Take counts one request for target on day (a UTC date, 2006-01-02)
	// unless limit are counted already, and reports whether it did.
	Take(ctx context.Context, target, day string, limit int) (bool, error)
	// Count returns the requests counted for target on day.
	Count(ctx context.Context, target, day string) (int, error)
}

// CapError reports a target whose daily request cap is spent: the request
// was not sent. The cap is new at Reset, the next UTC midnight.
type CapError struct {
	Target string
	Limit  int
	Reset  time.Time
}

func (e *CapError) Error() string {
	return fmt.Sprintf("daily cap of %d requests for %s spent until %s", e.Limit, e.Target, e.Reset.Format(time.RFC3339))
}

// MemoryRequestCounter is the RequestCounter of one process: it keeps
// today's counts only. The zero value is ready to use.
type MemoryRequestCounter struct {
	mu     sync.Mutex
	day    string
	counts map[string]int
}

var _ RequestCounter = (*MemoryRequestCounter)(nil)

func (c *MemoryRequestCounter) today(day string) {
	if c.day != day || c.counts == nil {
		c.day, c.counts = day, make(map[string]int)
	}
}

// Take implements RequestCounter.
func (c *MemoryRequestCounter) Take(_ context.Context, target, day string, limit int) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.today(day)
	if c.counts[target] >= limit {
		return false, nil
	}
	c.counts[target]++
	return true, nil
}

// Count implements RequestCounter.
func (c *MemoryRequestCounter) Count(_ context.Context, target, day string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if day != c.day {
		return 0, nil
	}
	return c.counts[target], nil
}

// utcDay returns the UTC date of now and the midnight that ends it.
func utcDay(now time.Time) (day string, end time.Time) {
	now = now.UTC()
	y, m, d := now.Date()
	return now.Format(time.DateOnly), time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// takeRequest counts one request for t (defaults applied) against its
// daily cap; a spent cap is a *CapError.
func (f *Fetcher) takeRequest(ctx context.Context, t wildwatch.Target) error {
	limit := t.Politeness.DailyRequests
	if limit <= 0 {
		return nil
	}
	day, end := utcDay(time.Now())
	ok, err := f.counter.Take(ctx, t.Name, day, limit)
	if err != nil {
		return fmt.Errorf("counting a request for %s: %w", t.Name, err)
	}
	if !ok {
		return &CapError{Target: t.Name, Limit: limit, Reset: end}
	}
	return nil
}

// capSpent fails at once, with a *FetchError of kind capped, when t's
// daily cap is spent already, so that a fetch does not wait for its host
// only to be refused.
func (f *Fetcher) capSpent(ctx context.Context, t wildwatch.Target, rawURL string) error {
	limit := t.Politeness.DailyRequests
	if limit <= 0 {
		return nil
	}
	day, end := utcDay(time.Now())
	n, err := f.counter.Count(ctx, t.Name, day)
	if err != nil {
		return classify(rawURL, fmt.Errorf("counting the requests of %s: %w", t.Name, err))
	}
	if n >= limit {
		return classify(rawURL, &CapError{Target: t.Name, Limit: limit, Reset: end})
	}
	return nil
}
