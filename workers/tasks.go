package workers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// Task types.
const (
	TypeSweepStart = "sweep:start"
	TypeIndex      = "sweep:index"
	TypeListing    = "sweep:listing"
	// TypeRender renders an index or listing page in headless Chrome.
	TypeRender = "sweep:render"
)

// Queues. Start and index tasks are few and unlock the rest, so they run on
// their own queue with priority; static listing fetches run on "static";
// pages that need a browser run on "render", which can be served apart by
// workers that run Chrome.
const (
	QueueSweep  = "sweep"
	QueueStatic = "static"
	QueueRender = "render"
)

// DefaultQueues is what a worker serves when Config.Queues is empty, with
// their relative priorities. QueueRender is served only by a worker with a
// browser.
var DefaultQueues = map[string]int{QueueSweep: 3, QueueStatic: 6, QueueRender: 4}

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
	// Kind, Reason and Static are set on render tasks: the page kind, why it
	// is rendered, and what static extraction found first (listing pages).
	Kind   string             `json:"kind,omitempty"`
	Reason string             `json:"reason,omitempty"`
	Static *wildwatch.Listing `json:"static,omitempty"`
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
	return e.enqueueTask(ctx, taskType, queue, t, payload{Sweep: t.SweepID, Key: t.Key, URL: t.URL, Page: t.Page}, t.SweepID+"/"+t.Key)
}

func (e *enqueuer) enqueueTask(ctx context.Context, taskType, queue string, t storage.SweepTask, p payload, id string) (bool, error) {
	added, err := e.catalog.AddTask(ctx, t)
	if err != nil {
		return false, fmt.Errorf("recording task %s: %w", t.Key, err)
	}
	return added, e.put(ctx, queuedTask{taskType, queue, p, id})
}

// queuedTask is a task to put on the queue: its type, queue, payload and
// Asynq task ID.
type queuedTask struct {
	taskType, queue string
	p               payload
	id              string
}

// put puts q on the queue; a task whose ID is queued already is left as
// it is.
func (e *enqueuer) put(ctx context.Context, q queuedTask) error {
	body, err := json.Marshal(q.p)
	if err != nil {
		return err
	}
	task := asynq.NewTask(q.taskType, body,
		asynq.TaskID(q.id),
		asynq.Queue(q.queue),
		asynq.MaxRetry(e.maxRetry),
		asynq.Retention(taskRetention),
	)
	_, err = e.queue.EnqueueContext(ctx, task)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueueing %s: %w", q.p.Key, err)
	}
	return nil
}

// enqueuePage queues a page of a sweep: on the render queue when the target
// says it needs a browser, else for a static fetch.
func (e *enqueuer) enqueuePage(ctx context.Context, tg wildwatch.Target, t storage.SweepTask) (bool, error) {
	q := pageTask(ctx, tg, t)
	return e.enqueueTask(ctx, q.taskType, q.queue, t, q.p, q.id)
}

// enqueuePages is enqueuePage for each of ts, with their catalog tasks
// recorded at once, before any is queued; added[i] reports whether ts[i]
// was new to the catalog.
func (e *enqueuer) enqueuePages(ctx context.Context, tg wildwatch.Target, ts []storage.SweepTask) ([]bool, error) {
	added, err := e.catalog.AddTasks(ctx, ts)
	if err != nil {
		return nil, fmt.Errorf("recording %d tasks: %w", len(ts), err)
	}
	for _, t := range ts {
		if err := e.put(ctx, pageTask(ctx, tg, t)); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// pageTask is the queued task of a page of a sweep of tg (enqueuePage).
func pageTask(ctx context.Context, tg wildwatch.Target, t storage.SweepTask) queuedTask {
	if render, reason := crawler.NeedsRender(tg, t.Kind, t.URL, nil); render {
		return renderTask(ctx, t, reason, nil)
	}
	p := payload{Sweep: t.SweepID, Key: t.Key, URL: t.URL, Page: t.Page}
	if t.Kind == wildwatch.PageIndex {
		return queuedTask{TypeIndex, QueueSweep, p, t.SweepID + "/" + t.Key}
	}
	return queuedTask{TypeListing, QueueStatic, p, t.SweepID + "/" + t.Key}
}

// enqueueRender queues the page of catalog task t for rendering. The
// catalog task stays the same (pending until the render finishes), so a
// page is counted once whichever way it is fetched.
func (e *enqueuer) enqueueRender(ctx context.Context, t storage.SweepTask, reason string, static *wildwatch.Listing) (bool, error) {
	q := renderTask(ctx, t, reason, static)
	return e.enqueueTask(ctx, q.taskType, q.queue, t, q.p, q.id)
}

// renderTask is the queued task that renders the page of catalog task t.
func renderTask(ctx context.Context, t storage.SweepTask, reason string, static *wildwatch.Listing) queuedTask {
	p := payload{Sweep: t.SweepID, Key: t.Key, URL: t.URL, Page: t.Page, Kind: t.Kind, Reason: reason, Static: static}
	name := t.SweepID + "/" + t.Key
	// A task queued again by a resume ("<name>/r<seq>") hands its page
	// over under its own name: the render task of the first queueing may
	// have been parked, and Asynq keeps its ID.
	if cur, ok := asynq.GetTaskID(ctx); ok && strings.HasPrefix(cur, name+"/r") {
		name = cur
	}
	return queuedTask{TypeRender, QueueRender, p, name + "/render"}
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
