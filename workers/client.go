package workers

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// Client starts sweeps: it records them in the catalog and enqueues their
// first task. The API and the CLI use it; it needs no worker in-process.
type Client struct {
	enq  *enqueuer
	insp *asynq.Inspector
}

// NewClient connects to the queue at redisURL.
func NewClient(redisURL string, catalog *storage.Catalog) (*Client, error) {
	opt, err := redisConnOpt(redisURL)
	if err != nil {
		return nil, fmt.Errorf("queue client: redis url: %w", err)
	}
	return &Client{enq: &enqueuer{queue: asynq.NewClient(opt), catalog: catalog, maxRetry: defaultMaxRetry},
		insp: asynq.NewInspector(opt)}, nil
}

// StartSweep starts a sweep of the named target as it is stored now; later
// changes to the target do not affect the sweep.
func (c *Client) StartSweep(ctx context.Context, target string) (wildwatch.Sweep, error) {
	t, _, err := c.enq.catalog.GetTarget(ctx, target)
	if err != nil {
		return wildwatch.Sweep{}, fmt.Errorf("target %q: %w", target, err)
	}
	return c.enq.startSweep(ctx, t)
}

// Close releases the queue connections.
func (c *Client) Close() error { return errors.Join(c.enq.queue.Close(), c.insp.Close()) }
