package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/internal/pgtest"
	"github.com/wildwatch/wildwatch/internal/s3test"
	"github.com/wildwatch/wildwatch/storage"
)

// The fault tests run the daemon on services the test owns — a Redis, an
// S3 server and, for the PostgreSQL fault, a PostgreSQL cluster — so that
// they can stop and start them in the middle of a sweep without touching
// the services other tests share. Each test sweeps the cut-down demo target
// of the scale test (static fetching, a few index pages, a per-host limit
// that keeps the sweep running long enough to be interrupted), injects its
// fault once some listings are captured, and checks that the sweep finishes
// with every capturable listing captured exactly once, every capture's
// evidence verifying and the flags equal to the demo site's truth.

// faultCapturesBefore is how many captures the sweep has made when the
// fault is injected: well into the sweep, well before its end.
const faultCapturesBefore = 12

// faultTimeout bounds how long the sweep may take to finish after a fault.
// A step that was running when Redis went away cannot report its end to
// the queue; it runs again once Asynq's recoverer finds its lease expired,
// which takes up to a minute and a half.
const faultTimeout = 150 * time.Second

// faultRetryDelay is the daemon's first retry delay: short, so that steps
// that failed while a service was down are retried soon after it is back.
// A failed step is retried three times, 1s, 2s and 4s after it failed.
const faultRetryDelay = "1s"

// redisServer is a redis-server process the test owns, on its own port and
// directory.
type redisServer struct {
	bin  string
	port string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis runs a private Redis. It keeps an append-only file, as a
// production Redis behind a durable queue is configured: the tasks queued
// when it stops are there again when it starts.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server must be installed: %v", err)
	}
	r := &redisServer{bin: bin, port: freeTCPPort(t), dir: t.TempDir()}
	r.start(t)
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--port", r.port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	r.done = make(chan struct{})
	cmd, done := r.cmd, r.done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + r.port})
	defer rdb.Close()
	waitFor(t, "redis-server to answer", 20*time.Second, func() bool {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			t.Fatalf("redis-server exited:\n%s", log)
		default:
		}
		// PING answers while the append-only file is still loading; wait
		// until the data is there.
		info, err := rdb.Info(context.Background(), "persistence").Result()
		return err == nil && strings.Contains(info, "loading:0")
	})
}

// stop ends Redis with SIGTERM, on which it writes and syncs its
// append-only file before exiting.
func (r *redisServer) stop(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Errorf("redis-server did not stop within 20s of SIGTERM")
	}
}

// pgCluster is a PostgreSQL cluster the test owns, run by the postgres
// user from a directory of its own.
type pgCluster struct {
	dir  string // owned by postgres: data/, the socket and the log
	port string
}

const pgBin = "/usr/lib/postgresql/15/bin"

func startPostgres(t *testing.T) *pgCluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Fatalf("PostgreSQL 15 server binaries must be installed: %v", err)
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("the postgres user must exist: %v", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	// Not t.TempDir: its parent is private to root, and the cluster runs as
	// postgres.
	dir, err := os.MkdirTemp("", "wildwatch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{dir: dir, port: freeTCPPort(t)}
	// --no-sync and fsync=off: the cluster is stopped cleanly or thrown
	// away, never crashed, so syncing buys nothing but time.
	c.run(t, "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.start(t)
	t.Cleanup(func() {
		_, _ = c.pgCtl("stop", "-m", "immediate")
	})
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

func (c *pgCluster) dsn() string {
	return "postgres://postgres@127.0.0.1:" + c.port + "/postgres?sslmode=disable"
}

func (c *pgCluster) run(t *testing.T, tool string, args ...string) {
	t.Helper()
	out, err := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, tool)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

func (c *pgCluster) pgCtl(args ...string) ([]byte, error) {
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", c.data(), "-w", "-t", "30"}, args...)...).CombinedOutput()
}

func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	opts := "-p " + c.port + " -k " + c.dir + " -c listen_addresses=127.0.0.1 -c fsync=off"
	if out, err := c.pgCtl("start", "-l", filepath.Join(c.dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("starting PostgreSQL: %v\n%s\n%s", err, out, log)
	}
}

// stop shuts PostgreSQL down the way an operator's restart does: fast
// mode, which ends every session and its open transactions.
func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	if out, err := c.pgCtl("stop", "-m", "fast"); err != nil {
		t.Fatalf("stopping PostgreSQL: %v\n%s", err, out)
	}
}

func freeTCPPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// faultBed is a daemon on private services sweeping the cut-down demo
// target.
type faultBed struct {
	site  *loggedSite
	redis *redisServer
	s3    *s3test.Server
	pg    *pgCluster // nil: a fresh database on the shared server
	dsn   string
	data  string
	env   []string
	cat   *storage.Catalog
	sweep string
}

// startFaultBed starts the services, the daemon and a sweep; privatePG
// runs the catalog on a cluster of the test's own instead of a fresh
// database on the shared server.
func startFaultBed(t *testing.T, privatePG bool) *faultBed {
	t.Helper()
	ctx := context.Background()
	b := &faultBed{site: startLoggedSite(t), redis: startRedis(t), data: t.TempDir()}
	var err error
	if b.s3, err = s3test.Start(ctx, t.TempDir()); err != nil {
		t.Fatalf("starting the S3 server: %v", err)
	}
	t.Cleanup(func() { _ = b.s3.Stop() })
	if privatePG {
		b.pg = startPostgres(t)
		b.dsn = b.pg.dsn()
	} else {
		b.dsn = pgtest.New(t)
	}

	// The scale test's target without its schedule (the daemon's scheduler
	// must not start sweeps of its own) and with a looser per-host limit,
	// so that the sweep lasts a little longer than the outages.
	_, scaled := b.site.scaleTarget(t)
	src := string(scaled)
	for old, repl := range map[string]string{
		"schedule:\n  every: 3s\n":                                "",
		"  requests_per_second: " + strconv.Itoa(scaleRPS) + "\n": "  requests_per_second: 10\n",
		"  concurrency: " + strconv.Itoa(scaleConcurrency) + "\n": "  concurrency: 4\n",
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("the scale target has no %q", old)
		}
		src = strings.Replace(src, old, repl, 1)
	}
	tg, err := crawler.ParseTarget("fault-target.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	targetFile := filepath.Join(t.TempDir(), "fault-target.yaml")
	if err := os.WriteFile(targetFile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}

	b.env = []string{"WILDWATCH_S3_ACCESS_KEY=" + b.s3.AccessKey, "WILDWATCH_S3_SECRET_KEY=" + b.s3.SecretKey}
	serve := start(t, b.env, "serve", "--addr", "127.0.0.1:0", "--concurrency", "4",
		"--redis", b.redis.url(), "--database", b.dsn, "--s3-endpoint", b.s3.Endpoint, "--s3-tls=false",
		"--s3-create-bucket", "--s3-bucket", "evidence", "--data", b.data, "--retry-delay", faultRetryDelay)
	apiURL := serve.waitLine(t, "API: ", time.Minute)
	token := serve.waitLine(t, "admin token: ", time.Minute)
	client := append(slices.Clone(b.env), "WILDWATCH_SERVER="+apiURL, "WILDWATCH_TOKEN="+token)
	if out, code := runCLI(t, client, "targets", "apply", targetFile); code != 0 {
		t.Fatalf("targets apply: %s", out)
	}
	out, code := runCLI(t, client, "sweep", "start", tg.Name)
	if code != 0 {
		t.Fatalf("sweep start: %s", out)
	}
	var sw wildwatch.Sweep
	if err := json.Unmarshal([]byte(out), &sw); err != nil {
		t.Fatalf("sweep start printed %q: %v", out, err)
	}
	b.sweep = sw.ID

	if b.cat, err = storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: b.dsn}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.cat.Close() })
	return b
}

// get reads the sweep; while PostgreSQL is down it returns the error.
func (b *faultBed) get() (wildwatch.Sweep, error) {
	return b.cat.GetSweep(context.Background(), b.sweep)
}

// waitMidSweep waits until the sweep has faultCapturesBefore captures and
// fails the test if it has already finished.
func (b *faultBed) waitMidSweep(t *testing.T) {
	t.Helper()
	var s wildwatch.Sweep
	waitFor(t, "the first captures", time.Minute, func() bool {
		var err error
		s, err = b.get()
		if err != nil {
			t.Fatal(err)
		}
		return s.Counts.Captures >= faultCapturesBefore || s.Status == wildwatch.SweepFinished
	})
	if s.Status != wildwatch.SweepRunning {
		t.Fatalf("the sweep is %s before the fault (%+v); it must be running", s.Status, s.Counts)
	}
	t.Logf("%s injecting the fault at %+v", time.Now().UTC().Format("15:04:05.000"), s.Counts)
}

// checkRunning fails the test when the sweep ended during the outage,
// which would leave nothing for the restored service to do.
func (b *faultBed) checkRunning(t *testing.T) {
	t.Helper()
	var s wildwatch.Sweep
	// The catalog's own connections may need a moment after PostgreSQL
	// comes back.
	waitFor(t, "the catalog to answer", 30*time.Second, func() bool {
		var err error
		s, err = b.get()
		return err == nil
	})
	if s.Status != wildwatch.SweepRunning {
		t.Fatalf("the sweep is %s right after the outage (%+v); it must still be running", s.Status, s.Counts)
	}
	t.Logf("%s the service is back at %+v", time.Now().UTC().Format("15:04:05.000"), s.Counts)
}

// check waits for the sweep to finish and checks nothing was lost or
// duplicated.
func (b *faultBed) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var s wildwatch.Sweep
	last := time.Now()
	waitFor(t, "the sweep to finish", faultTimeout, func() bool {
		var err error
		if s, err = b.get(); err != nil {
			t.Logf("reading the sweep: %v", err)
			return false
		}
		if time.Since(last) > 10*time.Second {
			t.Logf("waiting for the sweep to finish: %s %+v", s.Status, s.Counts)
			last = time.Now()
		}
		return s.Status == wildwatch.SweepFinished
	})
	t.Logf("the sweep finished: %+v", s.Counts)

	// Every capturable listing has one capture, and no other listing has
	// one.
	links := b.site.expectedListings(t)
	want := links.captured
	if len(want) < 50 || len(links.broken) == 0 || len(links.disallowed) == 0 {
		t.Fatalf("the swept pages link to %d capturable listings, %d answering 500 and %d robots.txt disallows; the site changed",
			len(want), len(links.broken), len(links.disallowed))
	}
	caps, err := b.cat.ListCaptures(ctx, b.sweep)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range caps {
		got = append(got, c.Capture.URL)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%d captures for %d capturable listings: missing %v, extra %v, duplicated %v",
			len(got), len(want), diff(want, got), diff(got, want), duplicates(got))
	}
	if s.Counts.Captures != len(caps) {
		t.Errorf("the sweep counts %d captures, the catalog holds %d", s.Counts.Captures, len(caps))
	}
	// Errors are recorded for listings that cannot be captured (robots.txt,
	// 404, 500), never for a capturable one nor for a service that went
	// away.
	errs, err := b.cat.SweepErrors(ctx, b.sweep)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		if slices.Contains(want, e.URL) || e.Kind == wildwatch.ErrKindStorage || e.Kind == wildwatch.ErrKindNetwork {
			t.Errorf("sweep error on %s (%s): %s", e.URL, e.Kind, e.Message)
		}
	}

	// The flags are the truth for the listings swept.
	var truth []string
	for _, u := range b.site.site.Truth(b.site.URL) {
		if slices.Contains(want, u) {
			truth = append(truth, u)
		}
	}
	if len(truth) == 0 {
		t.Fatal("the demo site's truth has none of the swept listings; the site changed")
	}
	flags, err := b.cat.ListFlags(ctx, storage.FlagFilter{SweepID: b.sweep, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var flagged []string
	for _, f := range flags {
		flagged = append(flagged, f.URL)
	}
	slices.Sort(flagged)
	if !slices.Equal(flagged, truth) {
		t.Errorf("flags differ from the truth (%d flags, %d true): missing %v, extra %v, duplicated %v",
			len(flagged), len(truth), diff(truth, flagged), diff(flagged, truth), duplicates(flagged))
	}

	// One manifest per capture in S3, and each verifies.
	store, err := storage.NewS3(ctx, storage.S3Config{Endpoint: b.s3.Endpoint, Bucket: "evidence", AccessKey: b.s3.AccessKey, SecretKey: b.s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := store.List(ctx, "captures/"+b.sweep+"/")
	if err != nil {
		t.Fatal(err)
	}
	manifests := 0
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".manifest.json") {
			manifests++
		}
	}
	if manifests != len(caps) {
		t.Errorf("%d manifests stored for %d captures", manifests, len(caps))
	}
	verify := []string{"verify", "--s3-endpoint", b.s3.Endpoint, "--s3-tls=false", "--s3-bucket", "evidence", "--data", b.data}
	for _, c := range caps {
		verify = append(verify, c.ManifestKey)
	}
	out, code := runCLI(t, b.env, verify...)
	if code != 0 || strings.Count(out, "ok ") != len(caps) {
		t.Errorf("verify exited %d with %d ok lines for %d captures:\n%s", code, strings.Count(out, "ok "), len(caps), out)
	}
}

// TestFaultRedisRestart stops the queue's Redis in the middle of a sweep and
// starts it again on the same port and append-only file.
func TestFaultRedisRestart(t *testing.T) {
	t.Parallel()
	b := startFaultBed(t, false)
	b.waitMidSweep(t)
	b.redis.stop(t)
	time.Sleep(2 * time.Second) // the outage itself, not a wait for a condition
	b.redis.start(t)
	b.checkRunning(t)
	b.check(t)
}

// TestFaultS3Outage stops the S3 server in the middle of a sweep for
// several seconds and starts it again on the same endpoint and directory.
// Steps that fail to store their evidence meanwhile are retried, by the
// S3 client and then by the queue, and captured once.
func TestFaultS3Outage(t *testing.T) {
	t.Parallel()
	b := startFaultBed(t, false)
	b.waitMidSweep(t)
	if err := b.s3.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second) // the outage itself
	if err := b.s3.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.checkRunning(t)
	b.check(t)
}

// TestFaultPostgresRestart stops the catalog's PostgreSQL (a cluster of
// the test's own) in the middle of a sweep for longer than the retries of a
// step last at faultRetryDelay (1s, 2s, 4s): a step that cannot reach the
// catalog is retried without counting the try, so no step is given up
// while the catalog counts it pending, and the sweep ends complete.
func TestFaultPostgresRestart(t *testing.T) {
	t.Parallel()
	b := startFaultBed(t, true)
	b.waitMidSweep(t)
	b.pg.stop(t)
	if _, err := b.get(); err == nil {
		t.Fatal("the catalog answers with PostgreSQL stopped")
	}
	n := len(b.site.arrivals())
	time.Sleep(12 * time.Second) // the outage itself, longer than a step's retries
	t.Logf("the demo site received %d requests while PostgreSQL was down", len(b.site.arrivals())-n)
	b.pg.start(t)
	b.checkRunning(t)
	b.check(t)
}
