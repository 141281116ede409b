package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
)

// binary is the wildwatch binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wildwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "wildwatch")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building wildwatch: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// demo is the demo marketplace served for one test, with a log of every
// path it was asked for.
type demo struct {
	*httptest.Server
	site *demosite.Site
	mu   sync.Mutex
	hits map[string]int
}

func startTestSite(t *testing.T) *demo {
	d := &demo{hits: map[string]int{}}
	d.site = demosite.New(demosite.Config{SlowDelay: 200 * time.Millisecond, Log: func(r *http.Request) {
		d.mu.Lock()
		d.hits[r.URL.Path]++
		d.mu.Unlock()
	}})
	d.Server = httptest.NewServer(d.site)
	t.Cleanup(d.Close)
	return d
}

func (d *demo) targetFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "demo-target.yaml")
	if err := os.WriteFile(p, demosite.TargetYAML(d.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkRobots fails the test when a robots.txt-disallowed path was fetched.
func (d *demo) checkRobots(t *testing.T) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hits["/robots.txt"] == 0 {
		t.Error("robots.txt was never fetched")
	}
	for p := range d.hits {
		if strings.HasPrefix(p, "/private/") {
			t.Errorf("robots.txt forbids %s, and it was fetched", p)
		}
	}
}

// proc is a wildwatch process whose output lines the test can wait for.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	seen  chan struct{}
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), seen: make(chan struct{}, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &testLog{t: t, prefix: args[0] + ": "}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	})
	return p
}

// waitLine waits for an output line starting with prefix and returns the
// rest of it.
func (p *proc) waitLine(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				p.mu.Unlock()
				return strings.TrimSpace(rest)
			}
		}
		p.mu.Unlock()
		select {
		case <-p.seen:
		case <-deadline:
			t.Fatalf("no line %q within %s", prefix, within)
		}
	}
}

type testLog struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(b), nil
		}
		l.t.Log(l.prefix + strings.TrimRight(line, "\n"))
	}
}

// runCLI runs a short command and returns its standard output and exit
// code.
func runCLI(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running wildwatch %v: %v", args, err)
	}
	if errb.Len() > 0 {
		t.Logf("wildwatch %s stderr:\n%s", args[0], errb.String())
	}
	return out.String(), code
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

// checkCaptures checks each listing of the sweep was captured once and its
// flags are exactly the truth.
func checkCaptures(t *testing.T, ctx context.Context, cat *storage.Catalog, sweepID string, truth []string) []storage.CaptureRecord {
	t.Helper()
	caps, err := cat.ListCaptures(ctx, sweepID)
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]int{}
	for _, c := range caps {
		urls[c.Capture.URL]++
	}
	for u, n := range urls {
		if n > 1 {
			t.Errorf("%s captured %d times", u, n)
		}
	}
	flags, err := cat.ListFlags(ctx, storage.FlagFilter{SweepID: sweepID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var flagged []string
	for _, f := range flags {
		flagged = append(flagged, f.URL)
	}
	slices.Sort(flagged)
	if !slices.Equal(flagged, truth) {
		missing, extra := diff(truth, flagged), diff(flagged, truth)
		t.Errorf("flags differ from the truth (%d flags, %d true): missing %v, extra %v", len(flagged), len(truth), missing, extra)
	}
	return caps
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestSweepRunEmbedded sweeps the demo site with `wildwatch sweep run` on the
// embedded defaults and checks flags, captures, robots.txt and evidence.
func TestSweepRunEmbedded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startTestSite(t)
	data := t.TempDir()
	out, code := runCLI(t, nil, "sweep", "run", d.targetFile(t), "--data", data, "--retry-delay", "100ms")
	if code != 0 {
		t.Fatalf("sweep run exited %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum sweepSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line is not the summary: %q: %v", lines[len(lines)-1], err)
	}
	truth := d.site.Truth(d.URL)
	if sum.Flags != len(truth) || sum.Captures == 0 || sum.Errors == 0 || sum.Pages == 0 {
		t.Errorf("summary %+v; want %d flags, some captures, pages and errors (the site has broken links)", sum, len(truth))
	}
	d.checkRobots(t)

	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(data, "wildwatch.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	caps := checkCaptures(t, ctx, cat, sum.Sweep, truth)
	if len(caps) != sum.Captures {
		t.Errorf("catalog has %d captures, summary says %d", len(caps), sum.Captures)
	}

	// Pages built with JavaScript were rendered, with their screenshot and
	// DOM kept; the page that hangs its tab is a render error.
	rendered := 0
	for _, c := range caps {
		if c.Capture.Mode == wildwatch.RenderBrowser {
			rendered++
			if c.ScreenshotKey == "" || c.DOMKey == "" || c.Capture.ModeReason == "" {
				t.Errorf("rendered capture %s lacks its screenshot, DOM or reason: %+v", c.Capture.URL, c)
			}
		}
	}
	if rendered == 0 {
		t.Error("no page was rendered")
	}
	errs, err := cat.SweepErrors(ctx, sum.Sweep)
	if err != nil {
		t.Fatal(err)
	}
	hung := false
	for _, e := range errs {
		hung = hung || (e.Kind == wildwatch.ErrKindRender && strings.Contains(e.URL, "/js/item/"))
	}
	if !hung {
		t.Errorf("the page that hangs its tab was not recorded as a render error: %+v", errs)
	}

	out, code = runCLI(t, nil, "verify", "--data", data, filepath.Join(data, "evidence"))
	if code != 0 || strings.Count(out, "ok ") != len(caps) {
		t.Fatalf("verify exited %d with %d ok lines for %d captures:\n%s", code, strings.Count(out, "ok "), len(caps), out)
	}
}

// TestDaemonOnRealServices runs the daemon on real Redis, PostgreSQL and S3,
// kills it with SIGKILL in the middle of a sweep, starts it again, and checks
// that the sweep finishes with every listing captured once, the flags equal
// to the truth, robots.txt obeyed, every capture verifying and a flipped byte
// failing verification.
func TestDaemonOnRealServices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := startTestSite(t)
	s3dir := t.TempDir()
	s3, err := s3test.Start(ctx, s3dir)
	if err != nil {
		t.Fatalf("starting the S3 server: %v", err)
	}
	t.Cleanup(func() { _ = s3.Stop() })
	pg := pgtest.New(t)
	const redisURL = "redis://127.0.0.1:6379/7"
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 7})
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redis at 127.0.0.1:6379 must be running: %v", err)
	}

	data := t.TempDir()
	env := []string{"WILDWATCH_S3_ACCESS_KEY=" + s3.AccessKey, "WILDWATCH_S3_SECRET_KEY=" + s3.SecretKey}
	services := []string{"--redis", redisURL, "--database", pg, "--s3-endpoint", s3.Endpoint, "--s3-tls=false",
		"--s3-create-bucket", "--s3-bucket", "evidence", "--data", data, "--retry-delay", "100ms"}
	serve := start(t, env, append([]string{"serve", "--addr", "127.0.0.1:0", "--concurrency", "4"}, services...)...)
	apiURL := serve.waitLine(t, "API: ", time.Minute)
	token := serve.waitLine(t, "admin token: ", time.Minute)
	client := append(env, "WILDWATCH_SERVER="+apiURL, "WILDWATCH_TOKEN="+token)

	if out, code := runCLI(t, client, "targets", "apply", d.targetFile(t)); code != 0 {
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
	waitFor(t, "a few captures", 2*time.Minute, func() bool { return sweep().Counts.Captures >= 20 })
	before := sweep()
	if before.Status == wildwatch.SweepFinished {
		t.Fatal("the sweep finished before the worker could be killed")
	}
	if err := serve.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = serve.cmd.Wait()
	t.Logf("killed the daemon at %+v", before.Counts)

	serve = start(t, env, append([]string{"serve", "--addr", "127.0.0.1:0", "--concurrency", "4"}, services...)...)
	apiURL = serve.waitLine(t, "API: ", time.Minute)
	if again := serve.waitLine(t, "admin token: ", time.Minute); again != token {
		t.Errorf("the admin token changed across a restart")
	}
	client = append(env, "WILDWATCH_SERVER="+apiURL, "WILDWATCH_TOKEN="+token)
	// Tasks that were in flight come back once their lease expires (about a
	// minute after the kill).
	waitFor(t, "the sweep to finish", 8*time.Minute, func() bool {
		s := sweep()
		if s.Status != wildwatch.SweepFinished && time.Now().Second()%30 == 0 {
			t.Logf("waiting: %+v", s.Counts)
		}
		return s.Status == wildwatch.SweepFinished
	})

	truth := d.site.Truth(d.URL)
	caps := checkCaptures(t, ctx, cat, sw.ID, truth)
	d.checkRobots(t)

	// Every capture verifies from S3; then one flipped byte does not.
	keys := []string{}
	for _, c := range caps {
		keys = append(keys, c.ManifestKey)
	}
	verify := append([]string{"verify", "--s3-endpoint", s3.Endpoint, "--s3-tls=false", "--s3-bucket", "evidence", "--data", data}, keys...)
	out, code = runCLI(t, env, verify...)
	if code != 0 || strings.Count(out, "ok ") != len(caps) {
		t.Fatalf("verify exited %d with %d ok lines for %d captures:\n%s", code, strings.Count(out, "ok "), len(caps), out)
	}
	store, err := storage.NewS3(ctx, storage.S3Config{Endpoint: s3.Endpoint, Bucket: "evidence", AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	manifests, err := store.List(ctx, "captures/"+sw.ID+"/")
	if err != nil {
		t.Fatal(err)
	}
	nManifests := 0
	for _, o := range manifests {
		if strings.HasSuffix(o.Key, ".manifest.json") {
			nManifests++
		}
	}
	if nManifests != len(caps) {
		t.Errorf("%d manifests stored for %d captures", nManifests, len(caps))
	}

	victim := caps[0]
	// versitygw's posix backend keeps each object as a file under buckets/.
	path := filepath.Join(s3dir, "buckets", "evidence", filepath.FromSlash(victim.WARCKey))
	flipByte(t, path)
	out, code = runCLI(t, env, append(verify[:len(verify)-len(keys)], victim.ManifestKey)...)
	if code == 0 || !strings.Contains(out, "FAIL") {
		t.Fatalf("verify passed a WARC with a flipped byte (exit %d):\n%s", code, out)
	}

	// The API shows the flags with their captures.
	out, code = runCLI(t, client, "flags", "list", "--sweep", sw.ID, "--limit", "1000")
	var flags []wildwatch.Flag
	if code != 0 || json.Unmarshal([]byte(out), &flags) != nil || len(flags) != len(truth) {
		t.Fatalf("flags list (exit %d) gave %d flags, want %d", code, len(flags), len(truth))
	}
	out, code = runCLI(t, client, "review", flags[0].ID, "--decision", "confirmed", "--note", "checked")
	if code != 0 || !strings.Contains(out, `"confirmed"`) {
		t.Fatalf("review: exit %d: %s", code, out)
	}
	var manifest bytes.Buffer
	out, code = runCLI(t, client, "capture", "manifest", flags[0].CaptureID)
	manifest.WriteString(out)
	if code != 0 || !json.Valid(manifest.Bytes()) {
		t.Fatalf("capture manifest: exit %d: %s", code, out)
	}
}

// flipByte inverts one byte in the middle of a file the store made
// read-only.
func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the stored object: %v", err)
	}
	b[len(b)/2] ^= 0xff
	_ = os.Chmod(path, 0o644)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
