package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/internal/pgtest"
	"github.com/wildwatch/wildwatch/internal/s3test"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// gatedSite is the demo marketplace with every listing page a little slow,
// so that a worker always has pages in flight, and a gate that can hold
// the next listing request until the test lets it go.
type gatedSite struct {
	*httptest.Server
	site *demosite.Site

	mu      sync.Mutex
	hits    map[string]int
	arm     bool          // hold the next listing request
	held    string        // its path
	holding chan struct{} // closed once a request is held
	release chan struct{} // closed to let it go
}

func startGatedSite(t *testing.T) *gatedSite {
	g := &gatedSite{hits: map[string]int{}, holding: make(chan struct{}), release: make(chan struct{})}
	g.site = demosite.New(demosite.Config{SlowDelay: 200 * time.Millisecond})
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.hits[r.URL.Path]++
		armed := g.arm
		g.mu.Unlock()
		hold := false
		if armed && strings.HasPrefix(r.URL.Path, "/item/") {
			// Only a listing that answers (not a broken link) is held.
			rec := httptest.NewRecorder()
			g.site.ServeHTTP(rec, r)
			g.mu.Lock()
			if hold = g.arm && rec.Code == http.StatusOK; hold {
				g.arm, g.held = false, r.URL.Path
				close(g.holding)
			}
			g.mu.Unlock()
		}
		if hold {
			select {
			case <-g.release:
			case <-r.Context().Done():
				return
			}
		}
		if strings.HasPrefix(r.URL.Path, "/item/") {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		g.site.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.mu.Lock()
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		g.mu.Unlock()
		g.Close()
	})
	return g
}

// staticTarget is the demo target without its JavaScript pages, fetched
// statically, so that no browser is needed.
func (g *gatedSite) staticTarget(t *testing.T) string {
	src := string(demosite.TargetYAML(g.URL))
	for old, repl := range map[string]string{
		"  - " + g.URL + "/js/search\n": "",
		"render: auto\n":                "render: static\n",
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("the demo target has no %q", old)
		}
		src = strings.Replace(src, old, repl, 1)
	}
	p := filepath.Join(t.TempDir(), "demo-target.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitExit waits for a process to exit and returns its exit code.
func waitExit(t *testing.T, p *proc, within time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("%s did not exit within %s", p.cmd.Args[1], within)
		return -1
	}
}

// activeTasks returns the number of tasks some worker holds.
func activeTasks(t *testing.T, in *workers.Inspector) int {
	t.Helper()
	sizes, err := in.QueueSizes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range sizes {
		n += q.Active
	}
	return n
}

// TestWorkerSIGTERM runs the roles apart on real Redis, PostgreSQL and S3:
// an API and one worker at a time. A worker sent SIGTERM in the middle of a
// sweep finishes its tasks in flight and exits, leaving no task held; a
// worker whose shutdown timeout ends with a page still in flight returns
// that task to the queue. Another worker then finishes the sweep, and every
// listing is captured once, each page fetched once more only where a task
// was returned.
func TestWorkerSIGTERM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	site := startGatedSite(t)
	s3, err := s3test.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("starting the S3 server: %v", err)
	}
	t.Cleanup(func() { _ = s3.Stop() })
	pg := pgtest.New(t)
	const redisURL = "redis://127.0.0.1:6379/11"
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 11})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redis at 127.0.0.1:6379 must be running: %v", err)
	}
	inspector, err := workers.NewInspector(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer inspector.Close()

	shared := t.TempDir()
	env := []string{"WILDWATCH_S3_ACCESS_KEY=" + s3.AccessKey, "WILDWATCH_S3_SECRET_KEY=" + s3.SecretKey}
	services := func() []string {
		return []string{"--redis", redisURL, "--database", pg, "--s3-endpoint", s3.Endpoint, "--s3-tls=false",
			"--s3-create-bucket", "--s3-bucket", "evidence", "--key", filepath.Join(shared, "evidence.key"),
			"--data", t.TempDir(), "--retry-delay", "100ms"}
	}
	apiProc := start(t, env, append([]string{"api", "--addr", "127.0.0.1:0"}, services()...)...)
	apiURL := apiProc.waitLine(t, "API: ", time.Minute)
	token, code := runCLI(t, nil, "token", "create", "--database", pg, "--name", "test", "--role", "admin")
	if code != 0 {
		t.Fatalf("token create exited %d", code)
	}
	client := append(env, "WILDWATCH_SERVER="+apiURL, "WILDWATCH_TOKEN="+strings.TrimSpace(token))
	if out, code := runCLI(t, client, "targets", "apply", site.staticTarget(t)); code != 0 {
		t.Fatalf("targets apply: %s", out)
	}
	out, code := runCLI(t, client, "sweep", "start", "demo")
	if code != 0 {
		t.Fatalf("sweep start: %s", out)
	}
	var sw wildwatch.Sweep
	if err := json.Unmarshal([]byte(out), &sw); err != nil {
		t.Fatal(err)
	}
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: pg})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	sweep := func() wildwatch.Sweep {
		s, err := cat.GetSweep(ctx, sw.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// The first worker is stopped with SIGTERM in the middle of the sweep:
	// it finishes what it holds (each page takes 100ms; it has 30s) and
	// holds nothing once it has exited.
	first := start(t, env, append([]string{"worker", "--concurrency", "4"}, services()...)...)
	waitFor(t, "a few captures", 2*time.Minute, func() bool { return sweep().Counts.Captures >= 20 })
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, first, 2*time.Minute); code != 0 {
		t.Fatalf("the worker exited %d after SIGTERM", code)
	}
	if n := activeTasks(t, inspector); n != 0 {
		t.Errorf("%d tasks still held after the worker stopped", n)
	}
	if s := sweep(); s.Status == wildwatch.SweepFinished {
		t.Fatal("the sweep finished before the worker was stopped")
	} else {
		t.Logf("first worker stopped at %+v", s.Counts)
	}

	// The second worker has a shutdown timeout shorter than the page it
	// is fetching: it returns that task to the queue.
	site.mu.Lock()
	site.arm = true
	site.mu.Unlock()
	second := start(t, env, append([]string{"worker", "--concurrency", "4", "--shutdown-timeout", "1s"}, services()...)...)
	select {
	case <-site.holding:
	case <-time.After(2 * time.Minute):
		t.Fatal("the second worker fetched no listing page")
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, second, 2*time.Minute); code != 0 {
		t.Fatalf("the second worker exited %d after SIGTERM", code)
	}
	if n := activeTasks(t, inspector); n != 0 {
		t.Errorf("%d tasks still held after the second worker stopped", n)
	}
	close(site.release)

	// The third worker finishes the sweep.
	third := start(t, env, append([]string{"worker", "--concurrency", "4", "--metrics-addr", "127.0.0.1:0"}, services()...)...)
	opsURL := third.waitLine(t, "metrics and probes: ", time.Minute)
	waitFor(t, "the sweep to finish", 5*time.Minute, func() bool { return sweep().Status == wildwatch.SweepFinished })

	var truth []string
	for _, u := range site.site.Truth(site.URL) {
		if !strings.Contains(u, "/js/") {
			truth = append(truth, u)
		}
	}
	caps := checkCaptures(t, ctx, cat, sw.ID, truth)

	// Each captured listing page was fetched once for each task that
	// captured it (a /go/ link redirects to its /item/ page), and once more
	// only for the task the second worker returned to the queue.
	want := map[string]int{}
	for _, c := range caps {
		u, err := url.Parse(c.Capture.URL)
		if err != nil {
			t.Fatal(err)
		}
		want["/item/"+strings.TrimPrefix(strings.TrimPrefix(u.Path, "/go/"), "/item/")]++
	}
	site.mu.Lock()
	if _, ok := want[site.held]; !ok {
		t.Errorf("the page held while the second worker stopped (%s) was not captured", site.held)
	}
	want[site.held]++
	for path, n := range want {
		if site.hits[path] != n {
			t.Errorf("%s fetched %d times, want %d", path, site.hits[path], n)
		}
	}
	site.mu.Unlock()

	// The worker's metrics saw pages; its probes and the API's say ready.
	metrics := get(t, opsURL+"/metrics", "")
	if !strings.Contains(metrics, `wildwatch_pages_fetched_total{mode="static",status="200",target="demo"}`) ||
		!strings.Contains(metrics, `wildwatch_queue_tasks{queue="static",state="pending"} 0`) {
		t.Errorf("the worker's metrics lack pages or queue sizes:\n%s", grepLines(metrics, "wildwatch_"))
	}
	for _, u := range []string{opsURL + "/readyz", apiURL + "/readyz", opsURL + "/healthz", apiURL + "/healthz"} {
		if body := get(t, u, ""); !strings.Contains(body, `"ready"`) && !strings.Contains(body, `"ok"`) {
			t.Errorf("%s: %s", u, body)
		}
	}
	// On the API, /metrics needs a token.
	if code := status(t, apiURL+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics on the API without a token: %d", code)
	}
	if body := get(t, apiURL+"/metrics", strings.TrimSpace(token)); !strings.Contains(body, "wildwatch_build_info") {
		t.Errorf("/metrics on the API with a token:\n%s", body)
	}
}

func get(t *testing.T, u, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

func status(t *testing.T, u, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
