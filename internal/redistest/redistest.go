// Package redistest connects tests to the Redis server they run against.
//
// New connects to the server named by WILDWATCH_TEST_REDIS (host:port;
// default 127.0.0.1:6379) and returns a client and a key prefix of the
// test's own, whose keys it deletes when the test ends. A server that does
// not answer fails the test; it never skips.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvVar names the environment variable holding the server's address.
const EnvVar = "WILDWATCH_TEST_REDIS"

// DefaultAddr is used when EnvVar is unset.
const DefaultAddr = "127.0.0.1:6379"

// Addr returns the server's address.
func Addr() string {
	if a := os.Getenv(EnvVar); a != "" {
		return a
	}
	return DefaultAddr
}

// New returns a client of the test server and a key prefix unique to the
// test. The keys under the prefix are deleted and the client closed when
// the test ends.
func New(t testing.TB) (*redis.Client, string) {
	t.Helper()
	c := NewClient(t)
	var b [6]byte
	rand.Read(b[:])
	prefix := "wwtest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return c, prefix
}

// NewClient returns another client of the test server, closed when the
// test ends: what a second process would hold.
func NewClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr()})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redistest: Redis at %s does not answer: %v (start it, or point %s at one)", Addr(), err, EnvVar)
	}
	return c
}
