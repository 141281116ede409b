// Package metrics keeps wildwatch's Prometheus metrics and serves them on
// /metrics. Every name starts with "wildwatch_"; labels are bounded: target
// names, rule categories, HTTP statuses, queue names, error kinds, and
// host names only for the allowed hosts of the targets (any other host is
// counted as "other"). URLs are never labels.
//
// A Metrics value is told what happens through the observer interfaces of
// the parts it watches (workers.Observer, crawler.LimiterObserver) and
// wraps the evidence store to count what is written.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wildwatch/wildwatch"
)

const namespace = "wildwatch"

// QueueSize is the number of tasks in one queue, by state ("pending",
// "active", "scheduled", "retry", "archived", "completed").
type QueueSize struct {
	Queue string
	Tasks map[string]int
	// LatencySeconds is the age of the oldest pending task.
	LatencySeconds float64
}

// Config configures Metrics. The zero value serves the process's own
// metrics, without queue sizes and with every host counted as "other".
type Config struct {
	// Queues, when set, is asked for the queue sizes on every scrape.
	Queues func(ctx context.Context) ([]QueueSize, error)
	// Hosts, when set, returns the host names that may be labels: the
	// allowed hosts of the targets. It is asked by RefreshHosts and on
	// every scrape.
	Hosts func(ctx context.Context) ([]string, error)
	// Logger receives failures to read queue sizes or hosts; nil discards.
	Logger *slog.Logger
}

// Metrics holds the collectors on a registry of its own. It is safe for
// concurrent use.
type Metrics struct {
	cfg   Config
	reg   *prometheus.Registry
	hosts hostSet

	pages          *prometheus.CounterVec
	fetchSeconds   *prometheus.HistogramVec
	renderSeconds  *prometheus.HistogramVec
	requestSeconds *prometheus.HistogramVec
	flags          *prometheus.CounterVec
	sweepErrors    *prometheus.CounterVec
	captures       prometheus.Counter
	evidenceBytes  *prometheus.CounterVec
	evidenceObjs   *prometheus.CounterVec
	limiterWait    *prometheus.HistogramVec
	throttled      *prometheus.CounterVec
	backoffs       *prometheus.CounterVec
	backoffSeconds *prometheus.CounterVec

	queueMu      sync.Mutex
	queueTasks   *prometheus.GaugeVec
	queueLatency *prometheus.GaugeVec
	scrapeErrors *prometheus.CounterVec
}

// Buckets of the latency histograms, in seconds.
var (
	fetchBuckets  = []float64{.05, .1, .25, .5, 1, 2, 5, 10, 20, 40, 80}
	renderBuckets = []float64{.25, .5, 1, 2, 4, 8, 15, 30, 45, 60, 120}
	waitBuckets   = []float64{0, .01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60}
)

// New builds Metrics with its collectors registered, the Go runtime's and
// the process's among them.
func New(cfg Config) *Metrics {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{cfg: cfg, reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(v)
		return v
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}

	m.pages = counter("pages_fetched_total", "Pages fetched, by target, mode (static or browser) and HTTP status (\"none\" when no response came).", "target", "mode", "status")
	m.fetchSeconds = histogram("fetch_duration_seconds", "Time to fetch a page statically, politeness waits included (see limiter_wait_seconds).", fetchBuckets, "target")
	m.renderSeconds = histogram("render_duration_seconds", "Time to render a page in the browser: load, waits, screenshot and DOM, politeness waits of its requests included.", renderBuckets, "target")
	m.requestSeconds = histogram("host_request_duration_seconds", "Time one request to a host held its turn: from being sent until its response was read (static) or handed to the browser.", fetchBuckets, "host")
	m.flags = counter("flags_raised_total", "New flags raised, by target and rule category.", "target", "category")
	m.sweepErrors = counter("sweep_errors_total", "Steps of sweeps that failed for good and were recorded on their sweep, by error kind.", "kind")
	m.captures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "captures_total", Help: "Captures recorded as evidence (signed manifests stored)."})
	m.reg.MustRegister(m.captures)
	m.evidenceBytes = counter("evidence_stored_bytes_total", "Bytes of evidence objects stored, by object (warc, screenshot, dom, manifest, timestamp, other).", "object")
	m.evidenceObjs = counter("evidence_stored_objects_total", "Evidence objects stored, by object.", "object")
	m.limiterWait = histogram("limiter_wait_seconds", "Time requests waited for their turn under the per-host politeness limits.", waitBuckets, "host")
	m.throttled = counter("host_throttled_total", "Requests not sent because their host had asked for a pause (429/503 with Retry-After); the step is retried later.", "host")
	m.backoffs = counter("host_backoffs_total", "Pauses asked for by hosts (429 or 503 answers).", "host")
	m.backoffSeconds = counter("host_backoff_seconds_total", "Length of the pauses asked for by hosts, summed.", "host")

	m.queueTasks = gauge("queue_tasks", "Tasks in each queue by state, read from Redis at scrape time (the same for every process on one Redis).", "queue", "state")
	m.queueLatency = gauge("queue_latency_seconds", "Age of the oldest pending task of each queue, read at scrape time.", "queue")
	m.scrapeErrors = counter("metrics_read_errors_total", "Failures to read queue sizes or the targets' hosts at scrape time.", "source")

	info := gauge("build_info", "The running wildwatch version; always 1.", "version")
	info.WithLabelValues(wildwatch.Version).Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the collectors are on, to gather from or
// to register more collectors with.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format. Before it
// answers it reads the queue sizes and the targets' hosts, bounded by the
// request's context.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{m.cfg.Logger}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.readQueues(r.Context())
		m.RefreshHosts(r.Context())
		h.ServeHTTP(w, r)
	})
}

// readQueues sets the queue gauges from Config.Queues.
func (m *Metrics) readQueues(ctx context.Context) {
	if m.cfg.Queues == nil {
		return
	}
	m.queueMu.Lock()
	defer m.queueMu.Unlock()
	sizes, err := m.cfg.Queues(ctx)
	if err != nil {
		// The gauges keep their last values; the error counter tells.
		m.scrapeErrors.WithLabelValues("queues").Inc()
		m.cfg.Logger.WarnContext(ctx, "metrics: reading queue sizes", "err", err)
		return
	}
	m.queueTasks.Reset()
	m.queueLatency.Reset()
	for _, q := range sizes {
		for state, n := range q.Tasks {
			m.queueTasks.WithLabelValues(q.Queue, state).Set(float64(n))
		}
		m.queueLatency.WithLabelValues(q.Queue).Set(q.LatencySeconds)
	}
}

// statusLabel is an HTTP status as a label: the code, "none" when no
// response came, "other" for a code outside 100–599.
func statusLabel(c *wildwatch.Capture) string {
	switch {
	case c == nil || c.Status == 0:
		return "none"
	case c.Status < 100 || c.Status > 599:
		return "other"
	}
	return strconv.Itoa(c.Status)
}

// slogPrinter routes promhttp's error log into slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.l.Warn("metrics: serving", "err", v) }
