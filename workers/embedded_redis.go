package workers

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// EmbeddedRedis is an in-process Redis for the single-machine default. Its
// queue lives in memory: queued work is lost when the process stops, and
// sweeps are run again by their schedule.
type EmbeddedRedis struct {
	srv *miniredis.Miniredis
}

// StartEmbeddedRedis starts an in-process Redis on a free loopback port.
func StartEmbeddedRedis() (*EmbeddedRedis, error) {
	srv := miniredis.NewMiniRedis()
	if err := srv.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting embedded redis: %w", err)
	}
	return &EmbeddedRedis{srv: srv}, nil
}

// URL is the redis:// URL workers and clients connect to.
func (r *EmbeddedRedis) URL() string { return "redis://" + r.srv.Addr() }

// Stop shuts the server down.
func (r *EmbeddedRedis) Stop() { r.srv.Close() }
