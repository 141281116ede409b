package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// Every-schedules are fired by the scheduler's own loop, not by Asynq's
// periodic tasks, whose "@every" counts from when a scheduler loaded the
// schedule: each restart of a scheduler would put the next sweep off again.
// The loop anchors "every N" on the start (CreatedAt) of the target's
// latest sweep, as the catalog has it, so a restart neither skips nor
// doubles a run:
//
//   - the next fire is the first anchor + k·N still to come, queued ahead
//     as a task whose ID names its time, so that a restarted scheduler, or
//     several schedulers at once, queue it once;
//   - a fire that came due while no scheduler ran is queued at once, once;
//   - a target never swept is anchored on when a scheduler first saw its
//     schedule: its first fire's ID names the schedule, not the time, so a
//     restart finds it queued already.
//
// A sweep started by hand moves the anchor; a queued fire that the anchor
// has moved past, or whose schedule was changed, starts nothing when it
// comes (see staleFire).

// everyForget is how often the loop forgets which fires it has queued and
// asks the queue again (which turns away a fire queued already).
const everyForget = 5 * time.Minute

// everyLoop queues the fires of every-schedules.
type everyLoop struct {
	catalog  *storage.Catalog
	queue    *asynq.Client
	logger   *slog.Logger
	interval time.Duration

	// queued holds the IDs of the fires queued, or found queued, since
	// forgotAt.
	queued   map[string]bool
	forgotAt time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start runs the loop until stop: a sync at once, then every interval.
func (l *everyLoop) start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(l.interval)
		defer tick.Stop()
		for {
			if err := l.sync(ctx, time.Now()); err != nil && ctx.Err() == nil {
				l.logger.ErrorContext(ctx, "every-schedules not synced", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (l *everyLoop) stop() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
}

// everyFire is one fire of an every-schedule: its task ID and due time.
type everyFire struct {
	id  string
	due time.Time
}

// sync queues the fires every-schedules have due now or next.
func (l *everyLoop) sync(ctx context.Context, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if l.queued == nil || now.Sub(l.forgotAt) > everyForget {
		l.queued, l.forgotAt = map[string]bool{}, now
	}
	ts, err := l.catalog.ListTargets(ctx)
	if err != nil {
		return fmt.Errorf("reading schedules: %w", err)
	}
	var errs []error
	for _, t := range ts {
		s := t.Schedule
		if s == nil || s.Every <= 0 || s.Cron != "" {
			continue
		}
		fires, err := l.plan(ctx, t.Name, time.Duration(s.Every), now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range fires {
			if l.queued[f.id] {
				continue
			}
			if err := l.enqueue(ctx, t.Name, s.Every, f); err != nil {
				errs = append(errs, err)
				continue
			}
			l.queued[f.id] = true
		}
	}
	return errors.Join(errs...)
}

// plan returns the fires of target's every-schedule to be queued at now:
// the next one, and the last one due if it is past.
func (l *everyLoop) plan(ctx context.Context, target string, every time.Duration, now time.Time) ([]everyFire, error) {
	latest, err := l.catalog.LatestSweep(ctx, target)
	if errors.Is(err, storage.ErrNotFound) {
		return []everyFire{{id: everyTaskID(target, every, "first"), due: now.Add(every).Truncate(time.Second)}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("schedule of %s: %w", target, err)
	}
	anchor := latest.CreatedAt
	k := time.Duration(1)
	if now.After(anchor) {
		k = now.Sub(anchor)/every + 1
	}
	next := ceilSecond(anchor.Add(k * every))
	fires := []everyFire{{id: everyTaskID(target, every, strconv.FormatInt(next.Unix(), 10)), due: next}}
	if k >= 2 {
		due := ceilSecond(anchor.Add((k - 1) * every))
		fires = append(fires, everyFire{id: everyTaskID(target, every, strconv.FormatInt(due.Unix(), 10)), due: due})
	}
	return fires, nil
}

// ceilSecond rounds t up to a whole second: the queue runs a task at its
// time in whole seconds, and a fire must not come early.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// everyTaskID names a fire of target's every-schedule.
func everyTaskID(target string, every time.Duration, at string) string {
	return "schedule/" + target + "/every/" + every.String() + "/" + at
}

// enqueue queues fire f of target's schedule for its due time; a fire
// queued already is left as it is.
func (l *everyLoop) enqueue(ctx context.Context, target string, every wildwatch.Interval, f everyFire) error {
	body, err := json.Marshal(firePayload{Target: target, Due: f.due.UTC(), Every: every})
	if err != nil {
		return err
	}
	_, err = l.queue.EnqueueContext(ctx, asynq.NewTask(TypeScheduled, body,
		asynq.TaskID(f.id), asynq.ProcessAt(f.due), asynq.Queue(QueueSweep), asynq.MaxRetry(defaultMaxRetry),
		asynq.Retention(taskRetention)))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queueing schedule of %s: %w", target, err)
	}
	l.logger.InfoContext(ctx, "schedule queued its next sweep", "target", target, "every", time.Duration(every), "at", f.due.UTC())
	return nil
}

// staleFire says why a fire of an every-schedule must start nothing, or
// "" when it may: the schedule was changed since it was queued, or a sweep
// has started since, which moved the anchor past the fire.
func (h *handlers) staleFire(ctx context.Context, t wildwatch.Target, p firePayload) (string, error) {
	if t.Schedule.Cron != "" || t.Schedule.Every != p.Every {
		return "the schedule changed", nil
	}
	latest, err := h.catalog.LatestSweep(ctx, t.Name)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("schedule of %s: %w", t.Name, err)
	}
	if latest.CreatedAt.Add(time.Duration(p.Every)).After(p.Due) {
		return "a sweep started since it was due " + time.Duration(p.Every).String() + " after the one before", nil
	}
	return "", nil
}

// everyNextRuns returns when each every-schedule of targets fires next,
// as the fires queued say; schedules with no fire queued (no scheduler
// runs) are left out.
func (c *Client) everyNextRuns(ctx context.Context, targets []wildwatch.Target) (map[string]time.Time, error) {
	want := map[string]wildwatch.Target{}
	for _, t := range targets {
		if s := t.Schedule; s != nil && s.Every > 0 && s.Cron == "" {
			want[t.Name] = t
		}
	}
	out := map[string]time.Time{}
	if len(want) == 0 {
		return out, nil
	}
	var tasks []*asynq.TaskInfo
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){c.insp.ListScheduledTasks, c.insp.ListPendingTasks} {
		for page := 1; ; page++ {
			ts, err := list(QueueSweep, asynq.PageSize(500), asynq.Page(page))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading queued fires: %w", err)
			}
			tasks = append(tasks, ts...)
			if len(ts) < 500 {
				break
			}
		}
	}
	anchors := map[string]time.Time{}
	for _, ti := range tasks {
		if ti.Type != TypeScheduled {
			continue
		}
		var p firePayload
		if json.Unmarshal(ti.Payload, &p) != nil || p.Due.IsZero() {
			continue
		}
		t, ok := want[p.Target]
		if !ok || t.Schedule.Every != p.Every {
			continue
		}
		anchor, ok := anchors[t.Name]
		if !ok {
			latest, err := c.enq.catalog.LatestSweep(ctx, t.Name)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			anchor = latest.CreatedAt
			anchors[t.Name] = anchor
		}
		if !anchor.IsZero() && anchor.Add(time.Duration(p.Every)).After(p.Due) {
			continue // stale: it will start nothing
		}
		if next, ok := out[t.Name]; !ok || p.Due.Before(next) {
			out[t.Name] = p.Due
		}
	}
	return out, nil
}
