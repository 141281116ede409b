package bench

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// concurrency is the number of requests in flight in both benchmarks.
const concurrency = 8

// demoTarget returns the demo target for a site at base with politeness
// lifted for loopback.
func demoTarget(b *testing.B, base string) wildwatch.Target {
	t, err := crawler.ParseTarget("demo-target.yaml", demosite.TargetYAML(base))
	if err != nil {
		b.Fatal(err)
	}
	t.Politeness.RequestsPerSecond = -1
	t.Politeness.Concurrency = concurrency
	// The static pipeline against a static crawl; rendering has its own
	// benchmark (render_test.go).
	t.Render = wildwatch.RenderStatic
	return t
}

func startSite(b *testing.B) *httptest.Server {
	site := httptest.NewServer(demosite.New(demosite.Config{SlowDelay: 50 * time.Millisecond}))
	b.Cleanup(site.Close)
	return site
}

// measure runs fn and reports listings per second, CPU seconds per 1,000
// listings and the peak of the process's Go memory while fn ran.
func measure(b *testing.B, fn func() int) {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	cpu0 := cpuTime()
	start := time.Now()
	listings := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		listings += fn()
	}
	b.StopTimer()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	close(stop)
	wg.Wait()
	if listings == 0 {
		b.Fatal("no listings fetched")
	}
	b.ReportMetric(float64(listings)/elapsed.Seconds(), "listings/s")
	b.ReportMetric(cpu.Seconds()/float64(listings)*1000, "cpu-s/1000listings")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-MiB")
	b.ReportMetric(float64(listings)/float64(b.N), "listings")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBareColly is the baseline: colly follows the same index pages and
// listing links and reads each listing page, and does nothing else.
func BenchmarkBareColly(b *testing.B) {
	site := startSite(b)
	t := demoTarget(b, site.URL)
	measure(b, func() int {
		c := colly.NewCollector(colly.Async(true))
		c.IgnoreRobotsTxt = false // the pipeline obeys robots.txt too
		_ = c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: concurrency})
		var mu sync.Mutex
		seen := map[string]bool{}
		listings := 0
		visit := func(u string) {
			mu.Lock()
			defer mu.Unlock()
			if !seen[u] {
				seen[u] = true
				_ = c.Visit(u)
			}
		}
		c.OnHTML(t.Selectors.ListingLinks, func(e *colly.HTMLElement) { visit(e.Request.AbsoluteURL(e.Attr("href"))) })
		c.OnHTML(t.Selectors.NextPage, func(e *colly.HTMLElement) { visit(e.Request.AbsoluteURL(e.Attr("href"))) })
		c.OnHTML(t.Selectors.Fields.Title, func(e *colly.HTMLElement) {
			mu.Lock()
			listings++
			mu.Unlock()
		})
		for _, u := range t.IndexURLs() {
			visit(u)
		}
		c.Wait()
		return listings
	})
}

// BenchmarkPipeline sweeps the same pages through the whole pipeline on the
// embedded services: in-process Redis, SQLite, evidence directory.
func BenchmarkPipeline(b *testing.B) {
	site := startSite(b)
	t := demoTarget(b, site.URL)
	logger := slog.New(slog.DiscardHandler)
	matcher, err := rules.Compile(rules.Default())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	measure(b, func() int {
		dir := b.TempDir()
		redis, err := workers.StartEmbeddedRedis()
		if err != nil {
			b.Fatal(err)
		}
		defer redis.Stop()
		cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(dir, "wildwatch.db"), Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		defer cat.Close()
		store, err := storage.NewDir(filepath.Join(dir, "evidence"))
		if err != nil {
			b.Fatal(err)
		}
		signer, err := storage.LoadOrCreateKey(filepath.Join(dir, "key.pem"))
		if err != nil {
			b.Fatal(err)
		}
		if err := cat.PutTarget(ctx, t, nil); err != nil {
			b.Fatal(err)
		}
		w, err := workers.NewWorker(workers.Config{
			RedisURL: redis.URL(), Concurrency: concurrency * 2, PollInterval: 100 * time.Millisecond, RetryBase: 10 * time.Millisecond,
			Catalog: cat, Evidence: &storage.Evidence{Store: store, Signer: signer, Logger: logger},
			Fetcher: crawler.New(crawler.Config{Logger: logger}), Matcher: matcher, Logger: logger,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer w.Stop(ctx)
		q, err := workers.NewClient(redis.URL(), cat)
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close()
		sw, err := q.StartSweep(ctx, t.Name)
		if err != nil {
			b.Fatal(err)
		}
		for {
			s, err := cat.GetSweep(ctx, sw.ID)
			if err != nil {
				b.Fatal(err)
			}
			if s.Status == wildwatch.SweepFinished || s.Status == wildwatch.SweepFailed {
				return s.Counts.Captures
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
