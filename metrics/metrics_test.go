package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/metrics"
	"github.com/wildwatch/wildwatch/storage"
)

// scrape returns the /metrics page.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// value returns the value of the series named by its exposition line
// prefix (name{labels}), or fails.
func value(t *testing.T, page, series string) string {
	t.Helper()
	for _, line := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	t.Fatalf("no series %s in\n%s", series, page)
	return ""
}

func TestPagesFlagsErrors(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Config{})
	ok := &wildwatch.Capture{Status: 200}
	m.PageFetched("demo", wildwatch.RenderStatic, ok, nil, 300*time.Millisecond)
	m.PageFetched("demo", wildwatch.RenderStatic, ok, nil, 100*time.Millisecond)
	m.PageFetched("demo", wildwatch.RenderStatic, &wildwatch.Capture{Status: 404}, errors.New("404"), time.Millisecond)
	m.PageFetched("demo", wildwatch.RenderBrowser, nil, errors.New("tab crashed"), 2*time.Second)
	m.FlagRaised("demo", "ivory")
	m.FlagRaised("demo", "ivory")
	m.FlagRaised("demo", "pangolin")
	m.SweepError(wildwatch.ErrKindRender)

	page := scrape(t, m)
	for series, want := range map[string]string{
		`wildwatch_pages_fetched_total{mode="static",status="200",target="demo"}`:   "2",
		`wildwatch_pages_fetched_total{mode="static",status="404",target="demo"}`:   "1",
		`wildwatch_pages_fetched_total{mode="browser",status="none",target="demo"}`: "1",
		`wildwatch_fetch_duration_seconds_count{target="demo"}`:                     "3",
		`wildwatch_fetch_duration_seconds_bucket{target="demo",le="0.25"}`:          "2",
		`wildwatch_render_duration_seconds_count{target="demo"}`:                    "1",
		`wildwatch_render_duration_seconds_sum{target="demo"}`:                      "2",
		`wildwatch_flags_raised_total{category="ivory",target="demo"}`:              "2",
		`wildwatch_flags_raised_total{category="pangolin",target="demo"}`:           "1",
		`wildwatch_sweep_errors_total{kind="render"}`:                               "1",
		`wildwatch_build_info{version="` + wildwatch.Version + `"}`:                 "1",
	} {
		if got := value(t, page, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
	if !strings.Contains(page, "go_goroutines ") || !strings.Contains(page, "process_") {
		t.Error("the Go runtime and process collectors are missing")
	}
}

// TestHostLabels checks that only the targets' allowed hosts become
// labels, without their ports, and that every other host is "other".
func TestHostLabels(t *testing.T) {
	t.Parallel()
	hosts := []string{"market.example", "127.0.0.1"}
	m := metrics.New(metrics.Config{Hosts: func(context.Context) ([]string, error) { return hosts, nil }})
	m.RefreshHosts(context.Background())

	m.LimiterWaited("Market.Example:8443", 2*time.Second)
	m.LimiterWaited("127.0.0.1:8090", 0)
	m.LimiterWaited("cdn.tracker.example", time.Second)
	m.LimiterWaited("evil.example:1234", time.Second)
	m.LimiterHeld("market.example", 50*time.Millisecond)
	m.LimiterRefused("market.example", time.Minute)
	m.HostBackedOff("market.example:8443", 90*time.Second)
	m.HostBackedOff("elsewhere.example", 10*time.Second)

	page := scrape(t, m)
	for series, want := range map[string]string{
		`wildwatch_limiter_wait_seconds_count{host="market.example"}`:          "1",
		`wildwatch_limiter_wait_seconds_sum{host="market.example"}`:            "2",
		`wildwatch_limiter_wait_seconds_count{host="127.0.0.1"}`:               "1",
		`wildwatch_limiter_wait_seconds_count{host="other"}`:                   "2",
		`wildwatch_host_request_duration_seconds_count{host="market.example"}`: "1",
		`wildwatch_host_throttled_total{host="market.example"}`:                "1",
		`wildwatch_host_backoffs_total{host="market.example"}`:                 "1",
		`wildwatch_host_backoff_seconds_total{host="market.example"}`:          "90",
		`wildwatch_host_backoffs_total{host="other"}`:                          "1",
	} {
		if got := value(t, page, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
	for _, leak := range []string{"tracker", "evil", "8443", "elsewhere"} {
		if strings.Contains(page, leak) {
			t.Errorf("the page names %q, which is not an allowed host", leak)
		}
	}

	// A host added to a target becomes a label after the next refresh
	// (every scrape refreshes).
	hosts = append(hosts, "cdn.tracker.example")
	scrape(t, m)
	m.LimiterWaited("cdn.tracker.example", 0)
	if got := value(t, scrape(t, m), `wildwatch_limiter_wait_seconds_count{host="cdn.tracker.example"}`); got != "1" {
		t.Errorf("after the refresh: %s", got)
	}
}

func TestQueueSizes(t *testing.T) {
	t.Parallel()
	fail := false
	m := metrics.New(metrics.Config{Queues: func(ctx context.Context) ([]metrics.QueueSize, error) {
		if fail {
			return nil, errors.New("redis down")
		}
		return []metrics.QueueSize{
			{Queue: "static", Tasks: map[string]int{"pending": 5, "active": 2}, LatencySeconds: 1.5},
			{Queue: "render", Tasks: map[string]int{"pending": 0}},
		}, nil
	}})
	page := scrape(t, m)
	for series, want := range map[string]string{
		`wildwatch_queue_tasks{queue="static",state="pending"}`: "5",
		`wildwatch_queue_tasks{queue="static",state="active"}`:  "2",
		`wildwatch_queue_tasks{queue="render",state="pending"}`: "0",
		`wildwatch_queue_latency_seconds{queue="static"}`:       "1.5",
	} {
		if got := value(t, page, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
	fail = true
	page = scrape(t, m)
	if got := value(t, page, `wildwatch_metrics_read_errors_total{source="queues"}`); got != "1" {
		t.Errorf("read errors = %s, want 1", got)
	}
	// The last sizes read stay.
	if got := value(t, page, `wildwatch_queue_tasks{queue="static",state="pending"}`); got != "5" {
		t.Errorf("after a failed read: %s", got)
	}
}

func TestStoreCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, err := storage.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Config{})
	s := m.Store(dir)
	put := func(key string, n int) error {
		_, err := s.Put(ctx, key, bytes.NewReader(make([]byte, n)), int64(n), "application/octet-stream")
		return err
	}
	for key, n := range map[string]int{
		"captures/s1/c1/0123456789abcdef.warc.gz": 1000,
		"captures/s1/c1/0123456789abcdef.png":     300,
		"captures/s1/c1.manifest.json":            200,
		"captures/s1/c2/0123456789abcdef.warc.gz": 500,
		"captures/s1/c2.manifest.json":            100,
	} {
		if err := put(key, n); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	// An object that exists is refused and not counted.
	if err := put("captures/s1/c2.manifest.json", 100); !errors.Is(err, wildwatch.ErrObjectExists) {
		t.Fatalf("second put: %v", err)
	}
	page := scrape(t, m)
	for series, want := range map[string]string{
		`wildwatch_evidence_stored_bytes_total{object="warc"}`:       "1500",
		`wildwatch_evidence_stored_bytes_total{object="screenshot"}`: "300",
		`wildwatch_evidence_stored_bytes_total{object="manifest"}`:   "300",
		`wildwatch_evidence_stored_objects_total{object="warc"}`:     "2",
		`wildwatch_captures_total`:                                   "2",
	} {
		if got := value(t, page, series); got != want {
			t.Errorf("%s = %s, want %s", series, got, want)
		}
	}
	// Reads go through to the store.
	rc, _, err := s.Get(ctx, "captures/s1/c1.manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if len(b) != 200 {
		t.Errorf("read %d bytes back, want 200", len(b))
	}
	if n := testutil.CollectAndCount(m.Registry(), "wildwatch_captures_total"); n != 1 {
		t.Errorf("%d captures series", n)
	}
}
