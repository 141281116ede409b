package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
)

// renderPages is the number of listing pages each render benchmark renders
// per iteration.
const renderPages = 40

// jsListing builds its title 200ms after it loads, as pages of
// marketplaces that render on the client do.
const jsListing = `<!doctype html><html><head><meta charset="utf-8"><title>listing %d</title>
<style>body{margin:0;font:16px sans-serif} .row{height:40px;border-bottom:1px solid #ddd}</style>
</head><body><div id="app"><p>Loading…</p></div>
<script>
setTimeout(function () {
  var app = document.getElementById('app'), html = '<h1 class="title">Carved ivory bangle %d</h1>';
  for (var i = 0; i < 40; i++) html += '<div class="row">detail ' + i + '</div>';
  app.innerHTML = html;
}, 200);
</script></body></html>`

func startJSSite(b *testing.B) *httptest.Server {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/item/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, jsListing, n, n)
	}))
	b.Cleanup(site.Close)
	return site
}

func renderTarget(b *testing.B, base string) wildwatch.Target {
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	no := false
	return wildwatch.Target{
		Name:         "js-site",
		AllowedHosts: []string{u.Hostname()},
		StartURLs:    []string{base + "/item/0"},
		Render:       wildwatch.RenderBrowser,
		Selectors:    wildwatch.Selectors{ListingLinks: "a", Fields: wildwatch.FieldSelectors{Title: "h1.title"}},
		Politeness: wildwatch.Politeness{
			RequestsPerSecond: -1,
			Concurrency:       8,
			ObeyRobots:        &no,
			AllowPrivate:      true,
		},
	}
}

// measureRender runs fn, which renders renderPages pages, b.N times and
// reports pages per second and the peak resident memory of the browser's
// processes (from pids) plus this process, sampled while fn ran.
func measureRender(b *testing.B, pids func() []int, fn func() int) {
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			rss := residentBytes(append(pids(), os.Getpid()))
			if rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	pages := 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		pages += fn()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	wg.Wait()
	if pages == 0 {
		b.Fatal("no page rendered")
	}
	b.ReportMetric(float64(pages)/elapsed.Seconds(), "pages/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(pages)/float64(b.N), "pages")
}

// BenchmarkRenderPool renders the pages with crawler.Browser: four reused
// tabs, each page waited for (its title), captured with DOM and full-page
// screenshot, through the guard proxy and the interception.
func BenchmarkRenderPool(b *testing.B) {
	site := startJSSite(b)
	t := renderTarget(b, site.URL)
	logger := slog.New(slog.DiscardHandler)
	f := crawler.New(crawler.Config{Logger: logger})
	defer f.Close()
	br := f.NewBrowser(crawler.BrowserConfig{Tabs: 4, Logger: logger})
	ctx := context.Background()
	defer br.Close(ctx)
	// Chrome starts outside the measurement.
	if _, err := br.Render(ctx, t, site.URL+"/item/0", wildwatch.PageListing); err != nil {
		b.Fatal(err)
	}
	measureRender(b, br.PIDs, func() int {
		var rendered atomic.Int32
		var wg sync.WaitGroup
		for i := 1; i <= renderPages; i++ {
			wg.Go(func() {
				c, err := br.Render(ctx, t, fmt.Sprintf("%s/item/%d", site.URL, i), wildwatch.PageListing)
				if err != nil {
					b.Error(err)
					return
				}
				if !bytes.Contains(c.Rendered.DOM, fmt.Appendf(nil, "Carved ivory bangle %d<", i)) || len(c.Rendered.Screenshot) == 0 {
					b.Errorf("page %d: title or screenshot missing", i)
					return
				}
				rendered.Add(1)
			})
		}
		wg.Wait()
		return int(rendered.Load())
	})
}

// BenchmarkRenderPlainLoop is the baseline: plain chromedp, one page after
// the other, each in a new tab: navigate, wait for the title, full-page
// screenshot, close the tab.
func BenchmarkRenderPlainLoop(b *testing.B) {
	site := startJSSite(b)
	dir, err := os.MkdirTemp("", "bench-chrome-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(dir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	root, cancelRoot := chromedp.NewContext(allocCtx)
	defer cancelRoot()
	if err := chromedp.Do(root); err != nil { // starts Chrome, outside the measurement
		b.Fatal(err)
	}
	pids := func() []int { return processesOf(dir) }
	measureRender(b, pids, func() int {
		rendered := 0
		for i := 1; i <= renderPages; i++ {
			tab, cancel := chromedp.NewContext(root)
			err := chromedp.Do(tab,
				chromedp.Navigate(fmt.Sprintf("%s/item/%d", site.URL, i)),
				chromedp.WaitReady(chromedp.CSS("h1.title")),
			)
			var shot []byte
			if err == nil {
				shot, err = chromedp.Run(tab, chromedp.FullScreenshot(100))
			}
			cancel()
			if err != nil || len(shot) == 0 {
				b.Errorf("page %d: %v", i, err)
				continue
			}
			rendered++
		}
		return rendered
	})
}

// processesOf returns the processes of the Chrome started with user data
// directory dir: those naming it on their command line, and their
// descendants.
func processesOf(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte("--user-data-dir=" + dir)
	children := map[int][]int{}
	var queue []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 {
				if f := strings.Fields(string(stat[i+1:])); len(f) > 1 {
					if ppid, err := strconv.Atoi(f[1]); err == nil {
						children[ppid] = append(children[ppid], pid)
					}
				}
			}
		}
		if cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil {
			for arg := range bytes.SplitSeq(cmd, []byte{0}) {
				if bytes.Equal(arg, want) {
					queue = append(queue, pid)
					break
				}
			}
		}
	}
	seen := map[int]bool{}
	var pids []int
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		pids = append(pids, p)
		queue = append(queue, children[p]...)
	}
	return pids
}

// residentBytes sums VmRSS of the processes.
func residentBytes(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(status)) {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						total += kb << 10
					}
				}
				break
			}
		}
	}
	return total
}
