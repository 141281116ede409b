package workers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// TypeScheduled is a target's schedule firing: it starts a sweep of the
// target, unless the target has one queued, running or paused, or defers
// itself to the start of the schedule's crawl window.
const TypeScheduled = "schedule:fire"

// firePayload is the body of a TypeScheduled task.
type firePayload struct {
	Target string `json:"target"`
	// At is when a fire deferred to its window is due; zero for a fire of
	// the schedule itself.
	At time.Time `json:"at,omitzero"`
	// Due and Every are set for a fire of an every-schedule: when it was
	// due and the schedule's interval then (see every.go).
	Due   time.Time          `json:"due,omitzero"`
	Every wildwatch.Interval `json:"every,omitempty"`
}

// Cronspec is the Asynq (robfig/cron) spec of a schedule: its cron
// expression with its time zone ("CRON_TZ=Europe/Berlin 0 */6 * * *"), or
// "@every 6h0m0s".
func Cronspec(s wildwatch.Schedule) (string, error) {
	switch {
	case s.Cron != "" && s.Every != 0:
		return "", errors.New("schedule has both cron and every")
	case s.Every > 0:
		return "@every " + time.Duration(s.Every).String(), nil
	case s.Cron == "":
		return "", errors.New("schedule has neither cron nor every")
	case s.TZ != "":
		return "CRON_TZ=" + s.TZ + " " + s.Cron, nil
	}
	return s.Cron, nil
}

// SchedulerConfig configures a Scheduler. The zero value of each optional
// field means its default.
type SchedulerConfig struct {
	// RedisURL is the queue's Redis (required).
	RedisURL string
	// Catalog holds the targets and their schedules (required).
	Catalog *storage.Catalog
	// SyncInterval is how often the schedules are read again from the
	// catalog, so that an edited schedule is followed without a restart
	// (default 10s).
	SyncInterval time.Duration
	// HeartbeatInterval is how often the scheduler writes when each
	// schedule fires next to Redis, where Client.NextRuns reads it
	// (default 5s).
	HeartbeatInterval time.Duration
	Logger            *slog.Logger
}

func (c SchedulerConfig) withDefaults() SchedulerConfig {
	c.SyncInterval = cmp.Or(c.SyncInterval, 10*time.Second)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c SchedulerConfig) validate() error {
	if c.RedisURL == "" || c.Catalog == nil {
		return errors.New("scheduler: RedisURL and Catalog are required")
	}
	return nil
}

// Scheduler queues the firing of every target's schedule (TypeScheduled
// tasks, which the workers handle): cron schedules on an Asynq periodic
// task manager fed from the catalog, every-schedules by a loop of its own
// that counts from the target's latest sweep (see every.go). Several
// schedulers may run on one Redis: a target still gets one sweep at a
// time, and an every-schedule fires once between them.
type Scheduler struct {
	cfg      SchedulerConfig
	mgr      *asynq.PeriodicTaskManager
	provider *scheduleProvider
	every    *everyLoop
}

// NewScheduler checks cfg and builds a Scheduler; Start runs it.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opt, err := redisConnOpt(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("scheduler: redis url: %w", err)
	}
	p := &scheduleProvider{catalog: cfg.Catalog, logger: cfg.Logger}
	mgr, err := asynq.NewPeriodicTaskManager(asynq.PeriodicTaskManagerOpts{
		PeriodicTaskConfigProvider: p,
		RedisConnOpt:               opt,
		SyncInterval:               cfg.SyncInterval,
		SchedulerOpts: &asynq.SchedulerOpts{
			HeartbeatInterval: cfg.HeartbeatInterval,
			Logger:            slogAdapter{cfg.Logger},
			LogLevel:          asynq.InfoLevel,
			PostEnqueueFunc: func(info *asynq.TaskInfo, err error) {
				if err != nil {
					cfg.Logger.Error("schedule could not queue its sweep", "err", err)
				}
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	every := &everyLoop{catalog: cfg.Catalog, queue: asynq.NewClient(opt), logger: cfg.Logger, interval: cfg.SyncInterval}
	return &Scheduler{cfg: cfg, mgr: mgr, provider: p, every: every}, nil
}

// Start loads the schedules and begins firing them; it returns once the
// scheduler runs. ctx bounds every later read of the schedules.
func (s *Scheduler) Start(ctx context.Context) error {
	s.provider.setContext(ctx)
	if err := s.mgr.Start(); err != nil {
		return fmt.Errorf("starting scheduler: %w", err)
	}
	s.every.start(ctx)
	s.cfg.Logger.InfoContext(ctx, "scheduler started", "sync_interval", s.cfg.SyncInterval)
	return nil
}

// Stop stops firing schedules. Fires already queued stay queued.
func (s *Scheduler) Stop(context.Context) error {
	s.every.stop()
	s.mgr.Shutdown()
	return s.every.queue.Close()
}

// scheduleProvider gives the periodic task manager one TypeScheduled task
// per scheduled target.
type scheduleProvider struct {
	catalog *storage.Catalog
	logger  *slog.Logger

	mu  sync.Mutex
	ctx context.Context
	// bad remembers the targets whose schedule could not be registered, so
	// that the problem is logged once, not at every sync.
	bad map[string]string
}

func (p *scheduleProvider) setContext(ctx context.Context) {
	p.mu.Lock()
	p.ctx = context.WithoutCancel(ctx)
	p.mu.Unlock()
}

// GetConfigs implements asynq.PeriodicTaskConfigProvider.
func (p *scheduleProvider) GetConfigs() ([]*asynq.PeriodicTaskConfig, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	ts, err := p.catalog.ListTargets(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading schedules: %w", err)
	}
	bad := map[string]string{}
	var cs []*asynq.PeriodicTaskConfig
	for _, t := range ts {
		if t.Schedule == nil {
			continue
		}
		spec, err := Cronspec(*t.Schedule)
		if err == nil {
			_, err = cron.ParseStandard(spec)
		}
		if err != nil {
			bad[t.Name] = err.Error()
			if p.bad[t.Name] != err.Error() {
				p.logger.ErrorContext(ctx, "schedule not followed", "target", t.Name, "err", err)
			}
			continue
		}
		if t.Schedule.Every > 0 {
			continue // fired by the every loop
		}
		body, err := json.Marshal(firePayload{Target: t.Name})
		if err != nil {
			return nil, err
		}
		cs = append(cs, &asynq.PeriodicTaskConfig{
			Cronspec: spec,
			Task:     asynq.NewTask(TypeScheduled, body),
			Opts:     []asynq.Option{asynq.Queue(QueueSweep), asynq.MaxRetry(defaultMaxRetry)},
		})
	}
	p.bad = bad
	return cs, nil
}

// fire handles a TypeScheduled task.
func (h *handlers) fire(ctx context.Context, p firePayload) error {
	t, _, err := h.catalog.GetTarget(ctx, p.Target)
	if errors.Is(err, storage.ErrNotFound) {
		h.logger.InfoContext(ctx, "scheduled sweep not started: target deleted", "target", p.Target)
		return nil
	}
	if err != nil {
		return err
	}
	if t.Schedule == nil {
		h.logger.InfoContext(ctx, "scheduled sweep not started: schedule turned off", "target", t.Name)
		return nil
	}
	if !p.Due.IsZero() {
		why, err := h.staleFire(ctx, t, p)
		if err != nil {
			return err
		}
		if why != "" {
			h.logger.InfoContext(ctx, "scheduled sweep not started: "+why, "target", t.Name, "due", p.Due)
			return nil
		}
	}
	now := h.life.now()
	if !p.At.IsZero() && now.Before(p.At) {
		now = p.At // a deferred fire is due at its window's start, clocks apart
	}
	at, err := t.Schedule.StartAt(now)
	if err != nil {
		return fmt.Errorf("schedule of %s: %v: %w", t.Name, err, asynq.SkipRetry)
	}
	if at.After(now) {
		return h.deferFire(ctx, t, at)
	}
	sw, created, err := h.enq.startIfIdle(ctx, t)
	if err != nil {
		return err
	}
	if !created {
		h.logger.InfoContext(ctx, "scheduled sweep not started: the target's last sweep has not ended",
			"target", t.Name, "sweep", sw.ID, "status", sw.Status)
		return nil
	}
	h.logger.InfoContext(ctx, "scheduled sweep started", "target", t.Name, "sweep", sw.ID)
	return nil
}

// deferFire queues the fire again for at, the start of the schedule's
// window. Every fire deferred to one window start is one task.
func (h *handlers) deferFire(ctx context.Context, t wildwatch.Target, at time.Time) error {
	body, err := json.Marshal(firePayload{Target: t.Name, At: at.UTC()})
	if err != nil {
		return err
	}
	_, err = h.enq.queue.EnqueueContext(ctx, asynq.NewTask(TypeScheduled, body,
		asynq.TaskID("schedule/"+t.Name+"/"+strconv.FormatInt(at.Unix(), 10)),
		asynq.ProcessAt(at), asynq.Queue(QueueSweep), asynq.MaxRetry(defaultMaxRetry), asynq.Retention(taskRetention)))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("deferring schedule of %s: %w", t.Name, err)
	}
	h.logger.InfoContext(ctx, "scheduled sweep deferred to its crawl window", "target", t.Name, "window", t.Schedule.Window, "at", at)
	return nil
}

// startIfIdle starts a sweep of t unless t has one queued, running or
// paused, which it returns with created false. A queued one has its start
// task queued again, in case the process that created it died before.
func (e *enqueuer) startIfIdle(ctx context.Context, t wildwatch.Target) (wildwatch.Sweep, bool, error) {
	now := time.Now().UTC()
	s := wildwatch.Sweep{ID: newSweepID(now), Target: t.Name, Status: wildwatch.SweepQueued, CreatedAt: now}
	created, active, err := e.catalog.CreateSweepIfIdle(ctx, s, t)
	if err != nil {
		return s, false, err
	}
	if !created {
		if active.Status == wildwatch.SweepQueued {
			if _, err := e.enqueue(ctx, TypeSweepStart, QueueSweep, storage.SweepTask{SweepID: active.ID, Key: startKey, Kind: "start"}); err != nil {
				return active, false, err
			}
		}
		return active, false, nil
	}
	if _, err := e.enqueue(ctx, TypeSweepStart, QueueSweep, storage.SweepTask{SweepID: s.ID, Key: startKey, Kind: "start"}); err != nil {
		return s, true, err
	}
	return s, true, nil
}

// NextRuns returns when the schedule of each of targets next starts a
// sweep, its crawl window heeded: as the running schedulers report it (for
// an every-schedule, as its queued fire says), or, for a cron schedule no
// scheduler reports yet, as its expression says. Targets without a
// schedule, and every-schedules no scheduler runs, are left out.
func (c *Client) NextRuns(ctx context.Context, targets []wildwatch.Target) (map[string]time.Time, error) {
	every, err := c.everyNextRuns(ctx, targets)
	if err != nil {
		return nil, err
	}
	entries, err := c.insp.SchedulerEntries()
	if err != nil {
		return nil, fmt.Errorf("reading scheduler entries: %w", err)
	}
	type entry struct {
		spec string
		next time.Time
	}
	reported := map[string][]entry{}
	for _, e := range entries {
		if e.Task == nil || e.Task.Type() != TypeScheduled {
			continue
		}
		var p firePayload
		if json.Unmarshal(e.Task.Payload(), &p) == nil {
			reported[p.Target] = append(reported[p.Target], entry{e.Spec, e.Next})
		}
	}
	now := time.Now()
	out := map[string]time.Time{}
	for _, t := range targets {
		if t.Schedule == nil {
			continue
		}
		spec, err := Cronspec(*t.Schedule)
		if err != nil {
			continue
		}
		next := every[t.Name]
		for _, e := range reported[t.Name] {
			if e.spec == spec && !e.next.IsZero() && (next.IsZero() || e.next.Before(next)) {
				next = e.next
			}
		}
		if next.IsZero() && t.Schedule.Cron != "" {
			if sched, err := cron.ParseStandard(spec); err == nil {
				next = sched.Next(now)
			}
		}
		if next.IsZero() {
			continue
		}
		if at, err := t.Schedule.StartAt(next); err == nil {
			out[t.Name] = at.UTC()
		}
	}
	return out, nil
}
