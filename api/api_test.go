package api_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

type fakeSweeps struct{ started []string }

func (f *fakeSweeps) StartSweep(_ context.Context, target string) (wildwatch.Sweep, error) {
	if target != "demo" {
		return wildwatch.Sweep{}, storage.ErrNotFound
	}
	f.started = append(f.started, target)
	return wildwatch.Sweep{ID: "s1", Target: target, Status: wildwatch.SweepQueued}, nil
}

type bundle struct {
	srv     *httptest.Server
	catalog *storage.Catalog
	store   *storage.Dir
	sweeps  *fakeSweeps
	tokens  map[string]string // role → token
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(dir, "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	store, err := storage.NewDir(filepath.Join(dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{catalog: cat, store: store, sweeps: &fakeSweeps{}, tokens: map[string]string{}}
	for _, role := range []string{api.RoleMonitor, api.RoleInvestigator, api.RoleAdmin} {
		tok, hash, err := api.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := cat.PutToken(ctx, storage.Token{Name: role + "-user", Role: role, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		b.tokens[role] = tok
	}
	s, err := api.New(api.Config{Catalog: cat, Evidence: store, Sweeps: b.sweeps, PublicKey: "ed25519:test"})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(s)
	t.Cleanup(b.srv.Close)

	// One sweep and capture with its WARC, for the evidence routes.
	tg := wildwatch.Target{Name: "demo"}
	if err := cat.CreateSweep(ctx, wildwatch.Sweep{ID: "s1", Target: "demo", Status: wildwatch.SweepRunning, CreatedAt: time.Now().UTC()}, tg); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "captures/s1/c1/abc.warc.gz", strings.NewReader("warc bytes"), 10, "application/warc"); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.PutCapture(ctx, storage.CaptureRecord{
		Capture:     wildwatch.Capture{ID: "c1", SweepID: "s1", Target: "demo", URL: "http://x/item/1", FinalURL: "http://x/item/1", Status: 200, StartedAt: time.Now().UTC(), FetchedAt: time.Now().UTC()},
		Listing:     wildwatch.Listing{URL: "http://x/item/1", Title: "carved tusk"},
		ManifestKey: "captures/s1/c1.manifest.json", WARCKey: "captures/s1/c1/abc.warc.gz",
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) client(role string) *api.Client {
	return &api.Client{BaseURL: b.srv.URL, Token: b.tokens[role]}
}

func status(err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	if err == nil {
		return 200
	}
	return -1
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	target, err := os.ReadFile("../deploy/examples/demo-target.yaml")
	if err != nil {
		t.Fatal(err)
	}
	download := func(c *api.Client) error { return c.Download(ctx, "c1", "warc", &bytes.Buffer{}) }
	apply := func(c *api.Client) error { _, err := c.ApplyTarget(ctx, "demo-target.yaml", target); return err }
	listFlags := func(c *api.Client) error { _, err := c.Flags(ctx, nil); return err }
	startSweep := func(c *api.Client) error { _, err := c.StartSweep(ctx, "demo"); return err }

	tests := []struct {
		name   string
		client *api.Client
		call   func(*api.Client) error
		want   int
	}{
		{"no token lists flags", &api.Client{BaseURL: b.srv.URL}, listFlags, 401},
		{"unknown token lists flags", &api.Client{BaseURL: b.srv.URL, Token: "ww_not-a-token"}, listFlags, 401},
		{"monitor lists flags", b.client(api.RoleMonitor), listFlags, 200},
		{"monitor starts sweep", b.client(api.RoleMonitor), startSweep, 200},
		{"monitor downloads evidence", b.client(api.RoleMonitor), download, 403},
		{"investigator downloads evidence", b.client(api.RoleInvestigator), download, 200},
		{"investigator applies target", b.client(api.RoleInvestigator), apply, 403},
		{"admin applies target", b.client(api.RoleAdmin), apply, 200},
		{"admin downloads evidence", b.client(api.RoleAdmin), download, 200},
	}
	for _, tt := range tests {
		if got := status(tt.call(tt.client)); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestHealthzNeedsNoToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Get(b.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

func TestDownloadIsByteExact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var buf bytes.Buffer
	if err := b.client(api.RoleInvestigator).Download(context.Background(), "c1", "warc", &buf); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "warc bytes" {
		t.Fatalf("downloaded %q", buf.String())
	}
}

func TestApplyTargetReportsLine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.client(api.RoleAdmin).ApplyTarget(context.Background(), "bad.yaml", []byte("name: demo\nallowed_hosts: [example.org]\nselectors:\n  listing_links: [\n"))
	if status(err) != 400 || !strings.Contains(err.Error(), "bad.yaml:") {
		t.Fatalf("applying a malformed target: %v", err)
	}
}

func TestReviewFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f, _, err := b.catalog.PutFlag(ctx, wildwatch.Flag{SweepID: "s1", CaptureID: "c1", Target: "demo", URL: "http://x/item/1", Category: "ivory", Score: 3})
	if err != nil {
		t.Fatal(err)
	}
	c := b.client(api.RoleMonitor)
	if _, err := c.Review(ctx, f.ID, "maybe", ""); status(err) != 400 {
		t.Fatalf("bad decision: %v", err)
	}
	if _, err := c.Review(ctx, "no-such-flag", wildwatch.FlagConfirmed, ""); status(err) != 404 {
		t.Fatalf("unknown flag: %v", err)
	}
	got, err := c.Review(ctx, f.ID, wildwatch.FlagConfirmed, "carved tusk")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != wildwatch.FlagConfirmed {
		t.Fatalf("status after review: %q", got.Status)
	}
	d, err := c.Flag(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Reviews) != 1 || d.Reviews[0].Reviewer != "monitor-user" || d.Capture.ID != "c1" {
		t.Fatalf("flag detail: %+v", d)
	}
	fl, err := c.Flags(ctx, map[string][]string{"status": {wildwatch.FlagConfirmed}, "category": {"ivory"}})
	if err != nil || len(fl) != 1 {
		t.Fatalf("filtered flags: %v %v", fl, err)
	}
	fl, err = c.Flags(ctx, map[string][]string{"status": {wildwatch.FlagNew}})
	if err != nil || len(fl) != 0 {
		t.Fatalf("new flags after review: %v %v", fl, err)
	}
}

// putCapture stores a capture of l in sweep s1.
func putCapture(t *testing.T, b *bundle, id string, l wildwatch.Listing) {
	t.Helper()
	now := time.Now().UTC()
	if _, err := b.catalog.PutCapture(context.Background(), storage.CaptureRecord{
		Capture: wildwatch.Capture{ID: id, SweepID: "s1", Target: "demo", URL: l.URL, FinalURL: l.URL, Status: 200, StartedAt: now, FetchedAt: now},
		Listing: l, ManifestKey: "captures/s1/" + id + ".manifest.json", WARCKey: "captures/s1/" + id + "/x.warc.gz",
	}); err != nil {
		t.Fatal(err)
	}
}
