package crawler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisRobotsCache is a RobotsCache shared by every process that uses the
// same Redis: a host's robots.txt is fetched by one worker and read by all
// until it expires. Each file is kept under its origin with the time it
// has left as the key's expiry; while one worker fetches a file it holds a
// lock the others wait on, which expires by itself if the worker dies.
type RedisRobotsCache struct {
	Client redis.UniversalClient
	// Prefix starts every key (default "wildwatch:robots:").
	Prefix string
	// Poll is the longest wait between two looks for a file another
	// worker is fetching (default 250ms); looks start faster and back
	// off to it.
	Poll time.Duration
	// LockTTL bounds how long a worker fetching a file holds the lock
	// when its context has no deadline (default 1m).
	LockTTL time.Duration
}

var _ RobotsCache = (*RedisRobotsCache)(nil)

// unlockScript deletes a lock if it still holds the caller's token.
// KEYS: lock. ARGV: token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (c *RedisRobotsCache) key(origin string) string {
	p := c.Prefix
	if p == "" {
		p = "wildwatch:robots:"
	}
	// The braces keep a file and its lock in one Redis Cluster slot.
	return p + "{" + origin + "}"
}

// Load implements RobotsCache.
func (c *RedisRobotsCache) Load(ctx context.Context, origin string, fetch func(context.Context) (*RobotsFile, error)) (*RobotsFile, error) {
	if c.Client == nil {
		return nil, errors.New("redis robots cache: no client")
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	key := c.key(origin)
	lock := key + ":lock"
	wait := 5 * time.Millisecond
	for {
		file, err := c.get(ctx, key)
		if err != nil || file != nil {
			return file, err
		}
		token := newLeaseID()
		ok, err := c.Client.SetNX(ctx, lock, token, c.lockTTL(ctx)).Result()
		if err != nil {
			return nil, c.fail(ctx, origin, err)
		}
		if ok {
			return c.fetch(ctx, key, lock, token, fetch)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		wait = min(2*wait, poll)
	}
}

// get reads the file kept under key, with the time it has left; nil when
// there is none.
func (c *RedisRobotsCache) get(ctx context.Context, key string) (*RobotsFile, error) {
	pipe := c.Client.Pipeline()
	val := pipe.Get(ctx, key)
	ttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, c.fail(ctx, key, err)
	}
	b, err := val.Bytes()
	if errors.Is(err, redis.Nil) || ttl.Val() <= 0 {
		return nil, nil
	}
	if err != nil {
		return nil, c.fail(ctx, key, err)
	}
	var f RobotsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil // unreadable: fetched again and replaced
	}
	f.Expires = time.Now().Add(ttl.Val())
	return &f, nil
}

// fetch fetches the file while holding the lock, keeps it for the time it
// has left and gives the lock back.
func (c *RedisRobotsCache) fetch(ctx context.Context, key, lock, token string, fetch func(context.Context) (*RobotsFile, error)) (*RobotsFile, error) {
	defer func() {
		// A lock that cannot be given back expires by itself.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		unlockScript.Run(uctx, c.Client, []string{lock}, token)
	}()
	// Another process may have stored the file between our look and our
	// lock: it is fetched once, not twice.
	if file, err := c.get(ctx, key); err != nil || file != nil {
		return file, err
	}
	file, err := fetch(ctx)
	if err != nil {
		return nil, err
	}
	if left := time.Until(file.Expires); left >= time.Millisecond {
		b, err := json.Marshal(file)
		if err != nil {
			return nil, err
		}
		if err := c.Client.Set(context.WithoutCancel(ctx), key, b, left).Err(); err != nil {
			// The file is good for this fetch; the others fetch it again.
			return file, nil
		}
	}
	return file, nil
}

// lockTTL outlasts the fetch: the context's deadline, or LockTTL.
func (c *RedisRobotsCache) lockTTL(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl)+time.Second, time.Second)
	}
	if c.LockTTL > 0 {
		return c.LockTTL
	}
	return time.Minute
}

func (c *RedisRobotsCache) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("redis robots cache for %s: %w", what, err)
}

// RedisRequestCounter is a RequestCounter shared by every process that
// uses the same Redis: one key per target and day, which expires two days
// later.
type RedisRequestCounter struct {
	Client redis.UniversalClient
	// Prefix starts every key (default "wildwatch:daily:").
	Prefix string
}

var _ RequestCounter = (*RedisRequestCounter)(nil)

// takeScript adds one to a count below ARGV[1] and reports whether it
// did. KEYS: count. ARGV: limit, seconds to keep the count.
var takeScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`)

func (c *RedisRequestCounter) key(target, day string) string {
	p := c.Prefix
	if p == "" {
		p = "wildwatch:daily:"
	}
	return p + "{" + target + "}:" + day
}

// Take implements RequestCounter.
func (c *RedisRequestCounter) Take(ctx context.Context, target, day string, limit int) (bool, error) {
	if c.Client == nil {
		return false, errors.New("redis request counter: no client")
	}
	n, err := takeScript.Run(ctx, c.Client, []string{c.key(target, day)}, limit, int64(48*time.Hour/time.Second)).Int()
	if err != nil {
		return false, fmt.Errorf("redis request counter for %s: %w", target, err)
	}
	return n == 1, nil
}

// Count implements RequestCounter.
func (c *RedisRequestCounter) Count(ctx context.Context, target, day string) (int, error) {
	if c.Client == nil {
		return 0, errors.New("redis request counter: no client")
	}
	n, err := c.Client.Get(ctx, c.key(target, day)).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis request counter for %s: %w", target, err)
	}
	return n, nil
}
