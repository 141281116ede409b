package workers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// Config configures a Worker. The zero value of each optional field means
// its default.
type Config struct {
	// RedisURL is the queue's Redis, "redis://host:port/db" (required).
	RedisURL string
	// Queues maps queue names to priorities; DefaultQueues when empty.
	Queues map[string]int
	// Concurrency is the number of tasks handled at once (default 8).
	Concurrency int
	// MaxRetry is how often a failing step is retried (default 3).
	MaxRetry int
	// RetryBase is the delay before the first retry of a failed step; each
	// further retry waits twice as long, up to 5 minutes (default 5s). A
	// server's Retry-After wins.
	RetryBase time.Duration
	// ShutdownTimeout bounds how long Stop waits for tasks in flight before
	// they are returned to the queue (default 10s).
	ShutdownTimeout time.Duration
	// PollInterval is how often scheduled and retried tasks are checked,
	// and how long a worker whose queues are empty waits, on average,
	// before it looks again (default 1s).
	PollInterval time.Duration

	Catalog  *storage.Catalog
	Evidence *storage.Evidence
	Fetcher  *crawler.Fetcher
	// Browser renders pages for the render queue; a worker without one does
	// not serve that queue.
	Browser *crawler.Browser
	// Rules gives the matcher for each listing (see ActiveRules); Matcher
	// is used when Rules is nil.
	Rules   MatcherSource
	Matcher wildwatch.Matcher
	Logger  *slog.Logger
	// Observer, when set, is told about pages, flags and errors (metrics).
	Observer Observer
	// Webhooks says where the end of a sweep that raised flags is
	// announced (see WebhookConfig).
	Webhooks WebhookConfig
	// BlockedPause is how many pages in a row answered with a block page
	// (ErrKindBlocked) pause a sweep (default wildwatch.DefaultBlockedPause).
	BlockedPause int
	// Now is the clock of schedules and revisit intervals (default
	// time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if len(c.Queues) == 0 {
		c.Queues = maps.Clone(DefaultQueues)
		if c.Browser == nil {
			delete(c.Queues, QueueRender)
		}
	}
	c.Concurrency = cmp.Or(c.Concurrency, 8)
	c.MaxRetry = cmp.Or(c.MaxRetry, defaultMaxRetry)
	c.RetryBase = cmp.Or(c.RetryBase, 5*time.Second)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 10*time.Second)
	c.PollInterval = cmp.Or(c.PollInterval, time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Rules == nil && c.Matcher != nil {
		c.Rules = StaticMatcher{c.Matcher}
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.RedisURL == "":
		return errors.New("worker: RedisURL is required")
	case c.Catalog == nil, c.Evidence == nil, c.Fetcher == nil, c.Rules == nil && c.Matcher == nil:
		return errors.New("worker: Catalog, Evidence, Fetcher and Rules (or Matcher) are required")
	case c.Queues[QueueRender] > 0 && c.Browser == nil:
		return errors.New("worker: serving the render queue needs a Browser")
	}
	if err := c.Webhooks.validate(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// retryDelay is the delay before retry n (counted from 0).
func (c Config) retryDelay(n int) time.Duration {
	d := time.Duration(float64(c.RetryBase) * math.Pow(2, float64(n)))
	return min(d, 5*time.Minute)
}

// Worker handles sweep tasks from the queue.
type Worker struct {
	cfg    Config
	srv    *asynq.Server
	client *asynq.Client
}

// NewWorker checks cfg and builds a Worker; Start runs it.
func NewWorker(cfg Config) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opt, err := redisConnOpt(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("worker: redis url: %w", err)
	}
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: cfg.Concurrency,
		Queues:      cfg.Queues,
		RetryDelayFunc: func(n int, err error, _ *asynq.Task) time.Duration {
			var fe *crawler.FetchError
			if errors.As(err, &fe) && fe.RetryAfter > 0 {
				return fe.RetryAfter
			}
			return cfg.retryDelay(n)
		},
		// A step that failed because one of wildwatch's own services was
		// out of reach is retried without counting the try.
		IsFailure:                func(err error) bool { return !serviceOutage(err) },
		Logger:                   slogAdapter{cfg.Logger},
		LogLevel:                 asynq.ErrorLevel, // failed steps are logged by the handlers
		ShutdownTimeout:          cfg.ShutdownTimeout,
		DelayedTaskCheckInterval: cfg.PollInterval,
		TaskCheckInterval:        cfg.PollInterval,
	})
	return &Worker{cfg: cfg, srv: srv, client: asynq.NewClient(opt)}, nil
}

func (w *Worker) handlers() *handlers {
	return &handlers{
		enq:      &enqueuer{queue: w.client, catalog: w.cfg.Catalog, maxRetry: w.cfg.MaxRetry},
		catalog:  w.cfg.Catalog,
		evidence: w.cfg.Evidence,
		fetcher:  w.cfg.Fetcher,
		browser:  w.cfg.Browser,
		rules:    w.cfg.Rules,
		logger:   w.cfg.Logger,
		obs:      w.cfg.Observer,
		life:     w.cfg.lifecycle(),
	}
}

// Start begins handling tasks; it returns once the worker is running.
func (w *Worker) Start(ctx context.Context) error {
	if err := w.srv.Start(w.handlers().mux()); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	w.cfg.Logger.InfoContext(ctx, "worker started", "queues", w.cfg.Queues, "concurrency", w.cfg.Concurrency)
	return nil
}

// Stop stops taking tasks, waits up to ShutdownTimeout for those in flight
// and returns the rest to the queue.
func (w *Worker) Stop(ctx context.Context) error {
	w.srv.Shutdown()
	return w.client.Close()
}

// slogAdapter routes asynq's logs into slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}
