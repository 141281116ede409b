package workers_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// site is a tiny marketplace: one index page linking to listings, one of
// them on a host nobody listens on.
type site struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newSite(t *testing.T, deadURL string) *site {
	s := &site{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		case "/search":
			fmt.Fprintf(w, `<html><body>
<a class="l" href="/item/1">1</a><a class="l" href="/item/2">2</a><a class="l" href="/item/1#again">1 again</a>
<a class="l" href="/item/3">3</a><a class="l" href="%s">dead</a></body></html>`, deadURL)
		case "/item/1":
			fmt.Fprint(w, `<html lang="en"><h1 class="t">Carved elephant ivory tusk, old stock</h1><p class="d">Genuine ivory.</p></html>`)
		case "/item/2":
			fmt.Fprint(w, `<html lang="en"><h1 class="t">Mountain bike, 21 gears</h1><p class="d">Good condition.</p></html>`)
		case "/item/3":
			fmt.Fprint(w, `<html lang="en"><h1 class="t">Ivory white wedding dress</h1><p class="d">Size 38, worn once.</p></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

type bundle struct {
	catalog  *storage.Catalog
	store    *storage.Dir
	evidence *storage.Evidence
	worker   *workers.Worker
	client   *workers.Client
	target   wildwatch.Target
	site     *site
	pub      ed25519.PublicKey
	redisURL string
	logger   *slog.Logger
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the worker's configuration edited by edit.
func setupWith(t *testing.T, edit func(*workers.Config)) *bundle {
	t.Helper()
	// A port that was just free: connecting to it is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/item/9"
	ln.Close()
	s := newSite(t, dead)
	host := strings.TrimPrefix(s.URL, "http://")
	host, _, _ = net.SplitHostPort(host)

	b := newStackWith(t, 4, edit)
	b.site = s
	b.target = wildwatch.Target{
		Name:         "tiny",
		AllowedHosts: []string{host},
		StartURLs:    []string{s.URL + "/search"},
		Selectors:    wildwatch.Selectors{ListingLinks: "a.l", Fields: wildwatch.FieldSelectors{Title: "h1.t", Description: "p.d"}},
		Politeness:   wildwatch.Politeness{RequestsPerSecond: -1, AllowPrivate: true},
	}
	return b
}

// newStack starts a worker with concurrency n on an embedded Redis, a
// SQLite catalog and a directory evidence store, and a client to start
// sweeps; the caller sets the site and target.
func newStack(t *testing.T, n int) *bundle {
	t.Helper()
	return newStackWith(t, n, nil)
}

// newStackWith is newStack with the worker's configuration edited by edit
// before the worker starts.
func newStackWith(t *testing.T, n int, edit func(*workers.Config)) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	redis, err := workers.StartEmbeddedRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(redis.Stop)
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(dir, "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	store, err := storage.NewDir(filepath.Join(dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := storage.LoadOrCreateKey(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	fetcher := crawler.New(crawler.Config{Logger: logger})
	t.Cleanup(fetcher.Close)
	ev := &storage.Evidence{Store: store, Signer: signer}
	cfg := workers.Config{
		RedisURL: redis.URL(), Concurrency: n, MaxRetry: 1, RetryBase: 10 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		Catalog: cat, Evidence: ev, Fetcher: fetcher, Matcher: m, Logger: logger,
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := workers.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(ctx) })
	client, err := workers.NewClient(redis.URL(), cat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &bundle{catalog: cat, store: store, evidence: ev, worker: w, client: client, pub: signer.PublicKey(),
		redisURL: redis.URL(), logger: logger}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func (b *bundle) sweep(t *testing.T, tg wildwatch.Target) wildwatch.Sweep {
	t.Helper()
	ctx := context.Background()
	if err := b.catalog.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	sw, err := b.client.StartSweep(ctx, tg.Name)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := b.catalog.GetSweep(ctx, sw.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status == wildwatch.SweepFinished {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweep did not finish: %+v", s)
		}
		<-tick.C
	}
}

func TestSweepFlagsAndRecordsErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := b.sweep(t, b.target)

	want := wildwatch.SweepCounts{Pages: 1, Listings: 4, Captures: 3, Flags: 1, Errors: 1, New: 3,
		ErrorsByKind: map[string]int{wildwatch.ErrKindNetwork: 1}}
	if !reflect.DeepEqual(s.Counts, want) {
		t.Errorf("counts %+v, want %+v", s.Counts, want)
	}
	errs, err := b.catalog.SweepErrors(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Kind != wildwatch.ErrKindNetwork || !strings.HasSuffix(errs[0].URL, "/item/9") {
		t.Errorf("errors %+v, want one network error for the dead host", errs)
	}
	flags, err := b.catalog.ListFlags(ctx, storage.FlagFilter{SweepID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) != 1 || !strings.HasSuffix(flags[0].URL, "/item/1") || flags[0].Category != "ivory" || len(flags[0].Verdict.Matches) == 0 {
		t.Fatalf("flags %+v, want the ivory tusk", flags)
	}
	// The fragment link to /item/1 was the same listing: fetched once.
	b.site.mu.Lock()
	n := b.site.hits["/item/1"]
	b.site.mu.Unlock()
	if n != 1 {
		t.Errorf("/item/1 fetched %d times", n)
	}
	// Every capture has its evidence, and it verifies.
	caps, err := b.catalog.ListCaptures(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caps {
		r, err := storage.VerifyCapture(ctx, b.store, c.ManifestKey, b.pub)
		if err != nil || !r.OK {
			t.Errorf("capture %s does not verify: %v %v", c.Capture.ID, r.Problems, err)
		}
	}
}

func TestListingLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tg := b.target
	tg.Limits.MaxListings = 2
	s := b.sweep(t, tg)
	if s.Counts.Listings != 2 {
		t.Errorf("%d listings queued with a limit of 2", s.Counts.Listings)
	}
}

// TestRetriedListingStoresNothingTwice runs listing tasks again, as a
// worker that died before acknowledging them would, including after a crash
// between storing the evidence and recording the capture: no evidence
// object, capture or flag is added.
func TestRetriedListingStoresNothingTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := b.sweep(t, b.target)
	objects := func(sweep string) int {
		objs, err := b.store.List(ctx, "captures/"+sweep+"/")
		if err != nil {
			t.Fatal(err)
		}
		return len(objs)
	}
	before := objects(s.ID)
	caps, err := b.catalog.ListCaptures(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caps {
		if err := workers.HandleListing(ctx, b.worker, s.ID, c.Capture.URL); err != nil {
			t.Fatal(err)
		}
	}
	if after := objects(s.ID); after != before {
		t.Errorf("evidence objects: %d before the rerun, %d after", before, after)
	}
	got, err := b.catalog.GetSweep(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Counts, s.Counts) {
		t.Errorf("counts after the rerun %+v, before %+v", got.Counts, s.Counts)
	}

	// A crash after the evidence was stored, before the capture was recorded.
	tg := b.target
	tg.Name = "tiny2"
	sw := wildwatch.Sweep{ID: "crash-sweep", Target: tg.Name, Status: wildwatch.SweepRunning, CreatedAt: time.Now().UTC()}
	if err := b.catalog.CreateSweep(ctx, sw, tg); err != nil {
		t.Fatal(err)
	}
	u := b.site.URL + "/item/1"
	if err := workers.AddListingTask(ctx, b.catalog, sw.ID, u); err != nil {
		t.Fatal(err)
	}
	earlier := &wildwatch.Capture{ID: workers.CaptureID(sw.ID, u), SweepID: sw.ID, Target: tg.Name, URL: u, FinalURL: u, Status: 200,
		StartedAt: time.Now().UTC(), FetchedAt: time.Now().UTC(), Body: []byte("<h1 class=t>Carved elephant ivory tusk</h1>")}
	m, err := b.evidence.Record(ctx, storage.WARCParams{Capture: earlier, Listing: wildwatch.Listing{URL: u, Title: "Carved elephant ivory tusk"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := workers.HandleListing(ctx, b.worker, sw.ID, u); err != nil {
		t.Fatal(err)
	}
	if n := objects(sw.ID); n != 2 {
		t.Errorf("%d evidence objects after the retry, want the 2 stored before the crash", n)
	}
	rec, err := b.catalog.GetCapture(ctx, earlier.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.WARCKey != m.Objects[0].Key {
		t.Errorf("capture names WARC %s, the stored manifest %s", rec.WARCKey, m.Objects[0].Key)
	}
	flags, err := b.catalog.ListFlags(ctx, storage.FlagFilter{SweepID: sw.ID})
	if err != nil || len(flags) != 1 {
		t.Errorf("flags after the retry: %v %v", flags, err)
	}
	got, err = b.catalog.GetSweep(ctx, sw.ID)
	if err != nil || got.Status != wildwatch.SweepFinished {
		t.Errorf("sweep after its only task: %+v %v", got, err)
	}
}
