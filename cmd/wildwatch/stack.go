package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/metrics"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// serviceOptions say where the queue, catalog, evidence and key are. Each
// empty option means the embedded default under --data.
type serviceOptions struct {
	dataDir     string
	redisURL    string
	databaseDSN string
	s3Endpoint  string
	s3Bucket    string
	s3Region    string
	s3Secure    bool
	s3Create    bool
	s3AccessKey string
	s3SecretKey string
	keyPath     string
	rulesPath   string
	retryBase   time.Duration
	chromeURL   string
	chromePath  string
	tabs        int
	pageTimeout time.Duration

	// retention and retentionMode lock S3 evidence (storage.ParseRetention,
	// storage.ParseRetentionMode); tsaURL has manifests timestamped.
	retention     string
	retentionMode string
	tsaURL        string
}

func (o *serviceOptions) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&o.dataDir, "data", cmp.Or(getenv("WILDWATCH_DATA"), "data"), "directory for embedded state: catalog, evidence, keys (env WILDWATCH_DATA)")
	fs.StringVar(&o.redisURL, "redis", getenv("WILDWATCH_REDIS"), "queue Redis URL: redis://[:password@]host:6379/0, rediss:// (TLS), redis-sentinel://[:password@]host1:26379,host2:26379/master-name?db=0 or redis-cluster://host1:6379,host2:6379; empty runs an in-process Redis whose queue is lost on restart (env WILDWATCH_REDIS)")
	fs.StringVar(&o.databaseDSN, "database", getenv("WILDWATCH_DATABASE"), "catalog: postgres://… URL or SQLite file; empty means DATA/wildwatch.db (env WILDWATCH_DATABASE)")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", getenv("WILDWATCH_S3_ENDPOINT"), "S3 endpoint host:port for evidence; empty keeps evidence in DATA/evidence (env WILDWATCH_S3_ENDPOINT)")
	fs.StringVar(&o.s3Bucket, "s3-bucket", cmp.Or(getenv("WILDWATCH_S3_BUCKET"), "wildwatch-evidence"), "S3 bucket for evidence (env WILDWATCH_S3_BUCKET)")
	fs.StringVar(&o.s3Region, "s3-region", getenv("WILDWATCH_S3_REGION"), "S3 region (env WILDWATCH_S3_REGION)")
	fs.BoolVar(&o.s3Secure, "s3-tls", getenv("WILDWATCH_S3_TLS") != "false", "use HTTPS for S3 (env WILDWATCH_S3_TLS=false turns it off)")
	fs.BoolVar(&o.s3Create, "s3-create-bucket", false, "create the S3 bucket when it does not exist")
	fs.StringVar(&o.retention, "retention", getenv("WILDWATCH_RETENTION"), "S3 evidence: lock every object for this long, e.g. 365d or 720h; the bucket must have object lock (--s3-create-bucket makes one with it) (env WILDWATCH_RETENTION)")
	fs.StringVar(&o.retentionMode, "retention-mode", cmp.Or(getenv("WILDWATCH_RETENTION_MODE"), storage.RetentionGovernance), "object lock mode for --retention: GOVERNANCE (users allowed to bypass governance may lift it) or COMPLIANCE (nobody can, until it ends) (env WILDWATCH_RETENTION_MODE)")
	fs.StringVar(&o.tsaURL, "tsa-url", getenv("WILDWATCH_TSA_URL"), "RFC 3161 time-stamping authority URL: each new manifest gets a timestamp token beside it (CAPTURE.manifest.tsr); a failed request leaves the capture without one (env WILDWATCH_TSA_URL)")
	o.s3AccessKey = getenv("WILDWATCH_S3_ACCESS_KEY")
	o.s3SecretKey = getenv("WILDWATCH_S3_SECRET_KEY")
	fs.StringVar(&o.keyPath, "key", getenv("WILDWATCH_KEY"), "Ed25519 evidence signing key (PEM); created on first start; empty means DATA/keys/evidence.key (env WILDWATCH_KEY)")
	fs.StringVar(&o.chromeURL, "chrome-url", getenv("WILDWATCH_CHROME_URL"), "render in a running browser at this ws:// URL instead of starting Chromium (env WILDWATCH_CHROME_URL)")
	fs.StringVar(&o.chromePath, "chrome", getenv("WILDWATCH_CHROME"), "Chromium binary to start (default: chromium on PATH) (env WILDWATCH_CHROME)")
	fs.IntVar(&o.tabs, "tabs", 4, "browser tabs rendering at once")
	fs.DurationVar(&o.pageTimeout, "page-timeout", 45*time.Second, "bound on rendering one page; a page that hangs the tab longer is retried once, then recorded as failed")
	fs.DurationVar(&o.retryBase, "retry-delay", 5*time.Second, "delay before a failed step's first retry; it doubles with each retry")
	fs.StringVar(&o.rulesPath, "rules", getenv("WILDWATCH_RULES"), "rule set YAML; empty uses the built-in default (env WILDWATCH_RULES)")
}

func (o *serviceOptions) signingKeyPath() string {
	return cmp.Or(o.keyPath, filepath.Join(o.dataDir, "keys", "evidence.key"))
}

// stack is every part a worker or the API needs, built from options.
type stack struct {
	redisURL string
	embedded *workers.EmbeddedRedis
	catalog  *storage.Catalog
	store    wildwatch.EvidenceStore
	signer   *storage.Signer
	fetcher  *crawler.Fetcher
	browser  *crawler.Browser // started on the first page that needs it
	matcher  *rules.Matcher
	// retryBase is the workers' first retry delay.
	retryBase time.Duration
	// rdb is a client of the queue's Redis (the in-process one included),
	// for readiness checks.
	rdb redis.UniversalClient
	// limitRedis holds the per-host limits shared by every worker; nil on
	// the in-process Redis.
	limitRedis redis.UniversalClient
	// metrics counts what the parts do; inspector reads the queue sizes
	// for it.
	metrics   *metrics.Metrics
	inspector *workers.Inspector
	// shutdownTimeout is how long a stopping worker lets its tasks in
	// flight finish before it returns them to the queue (zero: the
	// workers' default).
	shutdownTimeout time.Duration
	// webhooks is where the workers announce sweeps that raised flags.
	webhooks workers.WebhookConfig
	// timestamper is nil without --tsa-url.
	timestamper storage.Timestamper
}

func openStack(ctx context.Context, o serviceOptions, logger *slog.Logger) (_ *stack, err error) {
	s := &stack{redisURL: o.redisURL, retryBase: o.retryBase}
	defer func() {
		if err != nil {
			s.close(ctx)
		}
	}()
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return nil, err
	}
	if s.redisURL == "" {
		if s.embedded, err = workers.StartEmbeddedRedis(); err != nil {
			return nil, err
		}
		s.redisURL = s.embedded.URL()
		logger.Warn("queue is an in-process Redis: work still queued when the process stops is lost and sweeps must be started again; give --redis for a durable queue")
	}
	if s.rdb, err = workers.NewRedisClient(s.redisURL); err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	if s.inspector, err = workers.NewInspector(s.redisURL); err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	dsn := cmp.Or(o.databaseDSN, filepath.Join(o.dataDir, "wildwatch.db"))
	if s.catalog, err = storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: dsn, Logger: logger}); err != nil {
		return nil, fmt.Errorf("opening catalog: %w", err)
	}
	if s.store, err = openEvidenceStore(ctx, o, logger); err != nil {
		return nil, err
	}
	if s.signer, err = storage.LoadOrCreateKey(o.signingKeyPath()); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if o.tsaURL != "" {
		tsa, err := storage.NewTSA(storage.TSAConfig{URL: o.tsaURL})
		if err != nil {
			return nil, fmt.Errorf("--tsa-url: %w", err)
		}
		s.timestamper = tsa
		logger.Info("manifests are timestamped", "tsa", o.tsaURL)
	}
	s.metrics = metrics.New(metrics.Config{Queues: queueSizes(s.inspector), Hosts: s.targetHosts, Logger: logger})
	var limiter crawler.Limiter = &crawler.HostLimiter{} // per process on the in-process Redis
	fcfg := crawler.Config{Logger: logger}
	if o.redisURL != "" {
		// Every worker on this Redis keeps one set of per-host limits,
		// one robots.txt per host and one count per target and day.
		s.limitRedis = s.rdb
		limiter = &crawler.RedisLimiter{Client: s.limitRedis}
		fcfg.Robots = &crawler.RedisRobotsCache{Client: s.limitRedis}
		fcfg.Requests = &crawler.RedisRequestCounter{Client: s.limitRedis}
	}
	fcfg.Limiter = &crawler.ObservedLimiter{Limiter: limiter, Observer: s.metrics}
	s.fetcher = crawler.New(fcfg)
	s.browser = s.fetcher.NewBrowser(crawler.BrowserConfig{RemoteURL: o.chromeURL, ExecPath: o.chromePath, Tabs: o.tabs, PageTimeout: o.pageTimeout, Logger: logger})
	if s.matcher, err = loadMatcher(o.rulesPath); err != nil {
		return nil, err
	}
	if err := ensureActiveRules(ctx, s.catalog, o.rulesPath); err != nil {
		return nil, err
	}
	logger.Info("services ready", "catalog", s.catalog.Dialect(), "evidence", describeStore(o), "rules", s.matcher.Version(),
		"key", storage.Fingerprint(s.signer.PublicKey()))
	return s, nil
}

func openEvidenceStore(ctx context.Context, o serviceOptions, logger *slog.Logger) (wildwatch.EvidenceStore, error) {
	retention, err := storage.ParseRetention(o.retention)
	if err != nil {
		return nil, fmt.Errorf("--retention: %w", err)
	}
	mode, err := storage.ParseRetentionMode(o.retentionMode)
	if err != nil {
		return nil, fmt.Errorf("--retention-mode: %w", err)
	}
	if retention > 0 && o.s3Endpoint == "" {
		return nil, errors.New("--retention locks objects in S3 and needs --s3-endpoint; the local evidence directory keeps files read-only and never overwrites them, but has no retention lock")
	}
	if o.s3Endpoint == "" {
		d, err := storage.NewDir(filepath.Join(o.dataDir, "evidence"))
		if err != nil {
			return nil, fmt.Errorf("evidence directory: %w", err)
		}
		return d, nil
	}
	if o.s3AccessKey == "" || o.s3SecretKey == "" {
		return nil, errors.New("S3 evidence needs WILDWATCH_S3_ACCESS_KEY and WILDWATCH_S3_SECRET_KEY")
	}
	s3, err := storage.NewS3(ctx, storage.S3Config{
		Endpoint: o.s3Endpoint, Bucket: o.s3Bucket, Region: o.s3Region, Secure: o.s3Secure,
		AccessKey: o.s3AccessKey, SecretKey: o.s3SecretKey, CreateBucket: o.s3Create, Logger: logger,
		Retention: retention, RetentionMode: mode,
	})
	if errors.Is(err, storage.ErrNoObjectLock) {
		return nil, fmt.Errorf("S3 evidence store: %w (or start without --retention)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("S3 evidence store: %w", err)
	}
	return s3, nil
}

func describeStore(o serviceOptions) string {
	if o.s3Endpoint == "" {
		return "dir:" + filepath.Join(o.dataDir, "evidence")
	}
	return "s3:" + o.s3Endpoint + "/" + o.s3Bucket
}

func loadMatcher(path string) (*rules.Matcher, error) {
	rs := rules.Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if rs, err = rules.Parse(path, b); err != nil {
			return nil, err
		}
	}
	m, err := rules.Compile(rs)
	if err != nil {
		return nil, fmt.Errorf("compiling rules: %w", err)
	}
	return m, nil
}

// ensureActiveRules makes sure the catalog has an active rule set: a rule
// set given with --rules is stored and activated; otherwise, when none is
// active yet, the built-in default is.
func ensureActiveRules(ctx context.Context, cat *storage.Catalog, path string) error {
	src, note := rules.DefaultYAML(), "built-in default"
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src, note = b, "from "+filepath.Base(path)
	} else if _, err := cat.ActiveRuleSet(ctx); err == nil {
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	rs, err := rules.Parse(cmp.Or(path, "default.yaml"), src)
	if err != nil {
		return err
	}
	v, _, err := cat.PutRuleSet(ctx, rs.Name, src, "wildwatch", note)
	if err != nil {
		return fmt.Errorf("storing rule set: %w", err)
	}
	return cat.ActivateRuleSet(ctx, v.Name, v.Version)
}

// evidence returns the evidence writer over the stack's store and key.
func (s *stack) evidence(logger *slog.Logger) *storage.Evidence {
	return &storage.Evidence{Store: s.metrics.Store(s.store), Signer: s.signer, Timestamper: s.timestamper, Logger: logger}
}

// newWorker builds a worker on the stack.
func (s *stack) newWorker(logger *slog.Logger, concurrency int, queues string) (*workers.Worker, error) {
	cfg := workers.Config{
		RedisURL:    s.redisURL,
		Concurrency: concurrency,
		RetryBase:   s.retryBase,
		Catalog:     s.catalog,
		Evidence:    s.evidence(logger),
		Fetcher:     s.fetcher,
		Browser:     s.browser,
		Rules:       &workers.ActiveRules{Catalog: s.catalog, Fallback: s.matcher, Logger: logger},
		Logger:      logger,
		Observer:    s.metrics,
		Webhooks:    s.webhooks,

		ShutdownTimeout: s.shutdownTimeout,
	}
	if queues != "" {
		cfg.Queues = map[string]int{}
		for _, q := range strings.Split(queues, ",") {
			if q = strings.TrimSpace(q); q != "" {
				cfg.Queues[q] = cmp.Or(workers.DefaultQueues[q], 1)
			}
		}
	}
	return workers.NewWorker(cfg)
}

// startWorker starts a worker on every queue and a client to start sweeps
// with; stop stops both.
func (s *stack) startWorker(ctx context.Context, logger *slog.Logger, concurrency int) (queue *workers.Client, stop func(), err error) {
	w, err := s.newWorker(logger, concurrency, "")
	if err != nil {
		return nil, nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, nil, err
	}
	if queue, err = workers.NewClient(s.redisURL, s.catalog); err != nil {
		_ = stopWithin(ctx, w.Stop, s.stopTimeout())
		return nil, nil, err
	}
	return queue, func() {
		_ = stopWithin(ctx, w.Stop, s.stopTimeout())
		_ = queue.Close()
	}, nil
}

func (s *stack) close(ctx context.Context) {
	if s.browser != nil {
		_ = stopWithin(ctx, s.browser.Close, 10*time.Second)
	}
	if s.fetcher != nil {
		s.fetcher.Close()
	}
	if s.inspector != nil {
		_ = s.inspector.Close()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.catalog != nil {
		_ = s.catalog.Close()
	}
	if s.embedded != nil {
		s.embedded.Stop()
	}
}

// newAPI is the API on the stack's services, queueing sweeps on queue.
func (s *stack) newAPI(queue api.SweepStarter, publicURL string, logger *slog.Logger) (*api.Server, error) {
	return api.New(api.Config{Catalog: s.catalog, Evidence: s.store, Sweeps: queue, Logger: logger, Links: s.signer.LinkSigner(),
		PublicKey: storage.FormatPublicKey(s.signer.PublicKey()), Signer: s.signer, PDF: s.browser.PrintPDF, PublicURL: publicURL})
}

// publicURLFlag defines --public-url, for the roles that serve the API.
func publicURLFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	return fs.String("public-url", getenv("WILDWATCH_PUBLIC_URL"), "the API's address as others reach it (https://wildwatch.example.org), for share links; empty uses the address each request came to (env WILDWATCH_PUBLIC_URL)")
}
