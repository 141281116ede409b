package bench

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/internal/pgtest"
	"github.com/wildwatch/wildwatch/internal/redistest"
	"github.com/wildwatch/wildwatch/internal/s3test"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// sweepProfile names the file a CPU profile of BenchmarkPipelineServices's
// sweeps is written to: what its cpu-s/1000listings counts, without the
// setting up of the services around them.
var sweepProfile = flag.String("sweepprofile", "", "write a CPU profile of the sweeps of BenchmarkPipelineServices to this `file`")

// benchRedisDB is the Redis database the services benchmark queues in; it
// is emptied before each sweep.
const benchRedisDB = 12

// BenchmarkPipelineServices sweeps the demo site through the whole pipeline
// (fetch, extract, WARC, store, match, catalog) as a worker does in
// production: queue in Redis, catalog in PostgreSQL, evidence in S3, each a
// server of its own. What is measured is this process, the worker: the CPU
// it uses and the memory it holds while the sweep runs, from the sweep's
// start to its end; setting up the services is not counted.
func BenchmarkPipelineServices(b *testing.B) {
	site := startSite(b)
	t := demoTarget(b, site.URL)
	logger := slog.New(slog.DiscardHandler)
	matcher, err := rules.Compile(rules.Default())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s3dir := b.TempDir()
	s3, err := s3test.Start(ctx, s3dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s3.Stop() })
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: benchRedisDB})
	b.Cleanup(func() { rdb.Close() })
	redisURL := fmt.Sprintf("redis://%s/%d", redistest.Addr(), benchRedisDB)
	signer, err := storage.LoadOrCreateKey(filepath.Join(b.TempDir(), "key.pem"))
	if err != nil {
		b.Fatal(err)
	}

	var m sweepMeasure
	if *sweepProfile != "" {
		f, err := os.Create(*sweepProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		m.profile = f
	}
	for i := 0; i < b.N; i++ {
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			b.Fatalf("redis at %s must be running: %v", redistest.Addr(), err)
		}
		cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: pgtest.New(b), Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		store, err := storage.NewS3(ctx, storage.S3Config{
			Endpoint: s3.Endpoint, Bucket: fmt.Sprintf("bench-%d", i), AccessKey: s3.AccessKey, SecretKey: s3.SecretKey,
			CreateBucket: true, Logger: logger,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := cat.PutTarget(ctx, t, nil); err != nil {
			b.Fatal(err)
		}
		limits := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: benchRedisDB})
		w, err := workers.NewWorker(workers.Config{
			RedisURL: redisURL, Concurrency: concurrency * 2, PollInterval: 100 * time.Millisecond, RetryBase: 10 * time.Millisecond,
			Catalog: cat, Evidence: &storage.Evidence{Store: store, Signer: signer, Logger: logger},
			Fetcher: crawler.New(crawler.Config{Logger: logger, Limiter: &crawler.RedisLimiter{Client: limits}}),
			Matcher: matcher, Logger: logger,
		})
		if err != nil {
			b.Fatal(err)
		}
		q, err := workers.NewClient(redisURL, cat)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		m.start()
		if err := w.Start(ctx); err != nil {
			b.Fatal(err)
		}
		sw, err := q.StartSweep(ctx, t.Name)
		if err != nil {
			b.Fatal(err)
		}
		var s wildwatch.Sweep
		for {
			if s, err = cat.GetSweep(ctx, sw.ID); err != nil {
				b.Fatal(err)
			}
			if s.Status == wildwatch.SweepFinished || s.Status == wildwatch.SweepFailed {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		m.stop(s.Counts.Captures)
		w.Stop(ctx)
		q.Close()
		limits.Close()
		cat.Close()
	}
	m.report(b)
}

// sweepMeasure adds up CPU time, wall time and listings over sweeps, and
// samples the process's Go memory while they run.
type sweepMeasure struct {
	cpu, elapsed time.Duration
	listings     int
	peak         atomic.Uint64

	cpu0   time.Duration
	t0     time.Time
	done   chan struct{}
	wg     sync.WaitGroup
	sample []metrics.Sample
	// profile, when set, receives a CPU profile of the first sweep.
	profile *os.File
}

func (m *sweepMeasure) start() {
	m.done = make(chan struct{})
	m.sample = []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	m.wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(m.sample)
			if v := m.sample[0].Value.Uint64(); v > m.peak.Load() {
				m.peak.Store(v)
			}
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
		}
	})
	if m.profile != nil {
		// A profile that cannot start leaves the measure as it is.
		_ = pprof.StartCPUProfile(m.profile)
	}
	m.cpu0, m.t0 = cpuTime(), time.Now()
}

func (m *sweepMeasure) stop(listings int) {
	m.elapsed += time.Since(m.t0)
	m.cpu += cpuTime() - m.cpu0
	if m.profile != nil {
		pprof.StopCPUProfile()
		m.profile = nil
	}
	m.listings += listings
	close(m.done)
	m.wg.Wait()
}

func (m *sweepMeasure) report(b *testing.B) {
	if m.listings == 0 {
		b.Fatal("no listings captured")
	}
	b.ReportMetric(float64(m.listings)/m.elapsed.Seconds(), "listings/s")
	b.ReportMetric(m.cpu.Seconds()/float64(m.listings)*1000, "cpu-s/1000listings")
	b.ReportMetric(float64(m.peak.Load())/(1<<20), "peak-MiB")
	b.ReportMetric(float64(m.listings)/float64(b.N), "listings")
}
