package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/metrics"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// Metrics hears what the workers and the limiter do.
var (
	_ workers.Observer        = (*metrics.Metrics)(nil)
	_ crawler.LimiterObserver = (*metrics.Metrics)(nil)
)

// defaultShutdownTimeout is how long a stopping process lets work in
// flight finish.
const defaultShutdownTimeout = 30 * time.Second

// opsOptions are the flags every long-running role has.
type opsOptions struct {
	// metricsAddr serves /metrics, /healthz and /readyz without a token;
	// empty serves them on no port of their own.
	metricsAddr     string
	shutdownTimeout time.Duration
}

func (o *opsOptions) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&o.metricsAddr, "metrics-addr", getenv("WILDWATCH_METRICS_ADDR"), "serve /metrics, /healthz and /readyz without a token on this address (e.g. :9090), for Prometheus and probes; keep it off the public network (env WILDWATCH_METRICS_ADDR)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "on SIGTERM or SIGINT, how long tasks in flight may take to finish before they are returned to the queue, and requests to the API to be answered")
}

// stopTimeout bounds a worker's Stop: its shutdown timeout and a little
// more for returning tasks to the queue.
func (s *stack) stopTimeout() time.Duration {
	return cmp.Or(s.shutdownTimeout, 10*time.Second) + 5*time.Second
}

// queueSizes returns the func that reads the queue sizes for the metrics.
func queueSizes(in *workers.Inspector) func(context.Context) ([]metrics.QueueSize, error) {
	return func(ctx context.Context) ([]metrics.QueueSize, error) {
		sizes, err := in.QueueSizes(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.QueueSize, 0, len(sizes))
		for _, q := range sizes {
			out = append(out, metrics.QueueSize{Queue: q.Queue, LatencySeconds: q.LatencySeconds, Tasks: map[string]int{
				"pending": q.Pending, "active": q.Active, "scheduled": q.Scheduled,
				"retry": q.Retry, "archived": q.Archived, "completed": q.Completed,
			}})
		}
		return out, nil
	}
}

// targetHosts returns the hosts of every target, the only hosts that are
// metric labels.
func (s *stack) targetHosts(ctx context.Context) ([]string, error) {
	targets, err := s.catalog.ListTargets(ctx)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, t := range targets {
		hosts = append(hosts, t.AllowedHosts...)
		hosts = append(hosts, t.Browser.ResourceHosts...)
	}
	return hosts, nil
}

// probes are the readiness checks of the services the stack uses.
func (s *stack) probes(logger *slog.Logger) *api.Probes {
	return &api.Probes{Logger: logger, Checks: []api.Check{
		{Name: "catalog", Check: s.catalog.Ping},
		{Name: "redis", Check: func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }},
		api.StoreCheck(s.store),
	}}
}

// opsHandler serves /metrics, /healthz and /readyz.
func (s *stack) opsHandler(logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	s.probes(logger).Register(mux)
	mux.Handle("GET /metrics", s.metrics.Handler())
	return mux
}

// serveOps serves the stack's opsHandler on addr until stop is called, and
// prints where; an empty addr serves nothing.
func (s *stack) serveOps(ctx context.Context, e *cmdEnv, addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	s.metrics.RefreshHosts(ctx)
	return listenOps(ctx, e, addr, s.opsHandler(e.logger))
}

// serveRoleOps serves /metrics, /healthz and /readyz on addr for a role
// that runs without a stack (the scheduler): its metrics are the queue
// sizes and the process's own, its readiness the catalog and Redis. An
// empty addr serves nothing.
func serveRoleOps(ctx context.Context, e *cmdEnv, addr, redisURL string, cat *storage.Catalog) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	rdb, err := workers.NewRedisClient(redisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	in, err := workers.NewInspector(redisURL)
	if err != nil {
		rdb.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	m := metrics.New(metrics.Config{Queues: queueSizes(in), Logger: e.logger})
	mux := http.NewServeMux()
	probes := &api.Probes{Logger: e.logger, Checks: []api.Check{
		{Name: "catalog", Check: cat.Ping},
		{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
	}}
	probes.Register(mux)
	mux.Handle("GET /metrics", m.Handler())
	stopServer, err := listenOps(ctx, e, addr, mux)
	if err != nil {
		in.Close()
		rdb.Close()
		return nil, err
	}
	return func() {
		stopServer()
		in.Close()
		rdb.Close()
	}, nil
}

// listenOps serves h on addr and prints where.
func listenOps(ctx context.Context, e *cmdEnv, addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(e.out, "metrics and probes: http://%s\n", ln.Addr())
	return func() { _ = stopWithin(ctx, srv.Shutdown, 5*time.Second) }, nil
}

// apiHandler is the API with the metrics (behind a monitor's token) and
// the readiness probe (without one) beside it; the API answers /healthz.
func (s *stack) apiHandler(srv *api.Server, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.Handle("GET /metrics", srv.Protect(api.RoleMonitor, s.metrics.Handler()))
	mux.HandleFunc("GET /readyz", s.probes(logger).Readyz)
	return mux
}
