package workers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hibiken/asynq"
)

// QueueSize is the number of tasks in one queue, by state.
type QueueSize struct {
	Queue     string
	Pending   int
	Active    int
	Scheduled int // waiting for their time
	Retry     int // failed, waiting to be retried
	Archived  int // failed for good
	Completed int // kept for the retention time
	// LatencySeconds is the age of the oldest pending task.
	LatencySeconds float64
	Paused         bool
}

// Inspector reads the sizes of the queues, for metrics.
type Inspector struct {
	in *asynq.Inspector
}

// NewInspector connects to the queue at redisURL. Close it.
func NewInspector(redisURL string) (*Inspector, error) {
	opt, err := redisConnOpt(redisURL)
	if err != nil {
		return nil, fmt.Errorf("queue inspector: %w", err)
	}
	return &Inspector{in: asynq.NewInspector(opt)}, nil
}

// QueueSizes returns the size of every queue, the known ones (QueueSweep,
// QueueStatic, QueueRender) included when they hold nothing yet. Asynq's
// inspector takes no context: its calls are bounded by the Redis client's
// timeouts, and ctx is only checked between queues.
func (i *Inspector) QueueSizes(ctx context.Context) ([]QueueSize, error) {
	names, err := i.in.Queues()
	if err != nil {
		return nil, fmt.Errorf("listing queues: %w", err)
	}
	all := maps.Clone(DefaultQueues)
	for _, q := range names {
		all[q] = 0
	}
	exists := map[string]bool{}
	for _, q := range names {
		exists[q] = true
	}
	var out []QueueSize
	for _, q := range slices.Sorted(maps.Keys(all)) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !exists[q] {
			out = append(out, QueueSize{Queue: q})
			continue
		}
		info, err := i.in.GetQueueInfo(q)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", q, err)
		}
		out = append(out, QueueSize{
			Queue: q, Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled,
			Retry: info.Retry, Archived: info.Archived, Completed: info.Completed,
			LatencySeconds: info.Latency.Seconds(), Paused: info.Paused,
		})
	}
	return out, nil
}

// Close releases the connection.
func (i *Inspector) Close() error { return i.in.Close() }
