package workers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// Task types.
const (
	TypeSweepStart = "sweep:start"
	TypeIndex      = "sweep:index"
	TypeListing    = "sweep:listing"
)

// Queues. Start and index tasks are few and unlock the rest, so they run on
// their own queue with priority; static listing fetches run on "static".
const (
	QueueSweep  = "sweep"
	QueueStatic = "static"
)

// DefaultQueues is what a worker serves when Config.Queues is empty, with
// their relative priorities.
var DefaultQueues = map[string]int{QueueSweep: 3, QueueStatic: 6}

// taskRetention keeps completed tasks (and so their IDs) for this long, so
// that an index page retried after a crash cannot enqueue a listing twice.
const taskRetention = 24 * time.Hour

// defaultMaxRetry is how often a failing task is retried before it is
// recorded as failed on its sweep.
const defaultMaxRetry = 3

// payload is the body of every sweep task.
type payload struct {
	Sweep string `json:"sweep"`
	Key   string `json:"key"`
	URL   string `json:"url,omitempty"`
	Page  int    `json:"page,omitempty"`
}

// startKey is the catalog key of a sweep's start task.
const startKey = "start"

// taskKey names a page's task within its sweep: the kind and a digest of the
// URL, so the same URL found on several index pages is one task.
func taskKey(kind, url string) string {
	return kind + ":" + digest(url)[:20]
}

// CaptureID returns the capture ID of a listing URL within a sweep. It is
// stable, so a retried task writes the same capture.
func CaptureID(sweepID, url string) string {
	return "c" + digest(sweepID + "\n" + url)[:24]
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newSweepID returns a sortable, readable sweep ID: UTC time and a random
// suffix.
func newSweepID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b[:])
}

// enqueuer records a task in the catalog, then puts it on the queue. The
// catalog row comes first: if the process dies between the two, the parent
// task is retried and enqueues again, and the task ID makes that a no-op
// when the first enqueue did happen.
type enqueuer struct {
	queue    *asynq.Client
	catalog  *storage.Catalog
	maxRetry int
}

func (e *enqueuer) enqueue(ctx context.Context, taskType, queue string, t storage.SweepTask) (bool, error) {
	added, err := e.catalog.AddTask(ctx, t)
	if err != nil {
		return false, fmt.Errorf("recording task %s: %w", t.Key, err)
	}
	body, err := json.Marshal(payload{Sweep: t.SweepID, Key: t.Key, URL: t.URL, Page: t.Page})
	if err != nil {
		return false, err
	}
	task := asynq.NewTask(taskType, body,
		asynq.TaskID(t.SweepID+"/"+t.Key),
		asynq.Queue(queue),
		asynq.MaxRetry(e.maxRetry),
		asynq.Retention(taskRetention),
	)
	_, err = e.queue.EnqueueContext(ctx, task)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return false, fmt.Errorf("enqueueing %s: %w", t.Key, err)
	}
	return added, nil
}

// startSweep creates a sweep of t in the catalog and enqueues its start task.
func (e *enqueuer) startSweep(ctx context.Context, t wildwatch.Target) (wildwatch.Sweep, error) {
	now := time.Now().UTC()
	s := wildwatch.Sweep{ID: newSweepID(now), Target: t.Name, Status: wildwatch.SweepQueued, CreatedAt: now}
	if err := e.catalog.CreateSweep(ctx, s, t); err != nil {
		return s, fmt.Errorf("creating sweep: %w", err)
	}
	if _, err := e.enqueue(ctx, TypeSweepStart, QueueSweep, storage.SweepTask{SweepID: s.ID, Key: startKey, Kind: "start"}); err != nil {
		return s, err
	}
	return s, nil
}
