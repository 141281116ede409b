package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// bundleEnv is a server with real evidence of two captures of sweep s1,
// both flagged (f-a confirmed), and a signing key.
type bundleEnv struct {
	srv     *httptest.Server
	store   *storage.Dir
	signer  *storage.Signer
	tokens  map[string]string
	flagIDs map[string]string // capture → flag
	recs    map[string]storage.CaptureRecord
}

func setupBundles(t *testing.T, signed bool) *bundleEnv {
	t.Helper()
	ctx := t.Context()
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
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := storage.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	env := &bundleEnv{store: store, signer: signer, tokens: map[string]string{}, flagIDs: map[string]string{}, recs: map[string]storage.CaptureRecord{}}
	for _, role := range []string{api.RoleMonitor, api.RoleInvestigator} {
		tok, hash, err := api.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := cat.PutToken(ctx, storage.Token{Name: role + "-user", Role: role, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		env.tokens[role] = tok
	}
	cfg := api.Config{Catalog: cat, Evidence: store, Sweeps: &fakeSweeps{}, PublicKey: storage.FormatPublicKey(signer.PublicKey()),
		PDF: func(context.Context, []byte) ([]byte, error) { return []byte("%PDF-1.7 report\n%%EOF\n"), nil }}
	if signed {
		cfg.Signer = signer
	}
	s, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = httptest.NewServer(s)
	t.Cleanup(env.srv.Close)

	if err := cat.CreateSweep(ctx, wildwatch.Sweep{ID: "s1", Target: "demo", Status: wildwatch.SweepRunning, CreatedAt: time.Now().UTC()}, wildwatch.Target{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	ev := &storage.Evidence{Store: store, Signer: signer}
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for i, id := range []string{"a", "b"} {
		u := "http://market.example/item/" + id
		c := &wildwatch.Capture{ID: id, SweepID: "s1", Target: "demo", URL: u, FinalURL: u, Status: 200, Proto: "HTTP/1.1",
			StartedAt: at, FetchedAt: at.Add(time.Duration(i) * time.Second), UserAgent: "wildwatch-test",
			Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("<h1>carved tusk " + id + "</h1>")}
		p := storage.WARCParams{Capture: c, Listing: wildwatch.Listing{URL: u, Title: "carved tusk " + id, Seller: "s-" + id},
			Verdict: wildwatch.Verdict{Flagged: true, Score: 1, Category: "ivory", RuleSet: "default@1"}}
		m, err := ev.Record(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		rec := storage.CaptureRecord{Capture: *c, Listing: p.Listing, Verdict: p.Verdict}
		rec.Capture.Body = nil
		rec.SetEvidence(m)
		if _, err := cat.PutCapture(ctx, rec); err != nil {
			t.Fatal(err)
		}
		f, _, err := cat.PutFlag(ctx, wildwatch.Flag{SweepID: "s1", CaptureID: id, Target: "demo", Listing: p.Listing, Verdict: p.Verdict})
		if err != nil {
			t.Fatal(err)
		}
		env.flagIDs[id], env.recs[id] = f.ID, rec
	}
	if _, err := cat.AddReview(ctx, wildwatch.Review{FlagID: env.flagIDs["a"], Decision: wildwatch.FlagConfirmed, Reviewer: "ana", At: at}); err != nil {
		t.Fatal(err)
	}
	return env
}

func (env *bundleEnv) client(role string) *api.Client {
	return &api.Client{BaseURL: env.srv.URL, Token: env.tokens[role]}
}

// zipNames lists the files of a zip.
func zipNames(t *testing.T, data []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

func TestBundlesAPI(t *testing.T) {
	t.Parallel()
	env := setupBundles(t, true)
	ctx := t.Context()
	inv := env.client(api.RoleInvestigator)

	if _, err := env.client(api.RoleMonitor).CreateBundle(ctx, api.BundleRequest{Sweep: "s1"}); status(err) != http.StatusForbidden {
		t.Errorf("a monitor made a bundle: %v", err)
	}
	for _, bad := range []struct {
		req  api.BundleRequest
		want int
	}{
		{api.BundleRequest{}, http.StatusBadRequest},
		{api.BundleRequest{Sweep: "s1", Flags: []string{env.flagIDs["a"]}}, http.StatusBadRequest},
		{api.BundleRequest{Sweep: "nope"}, http.StatusNotFound},
		{api.BundleRequest{Flags: []string{"nope"}}, http.StatusNotFound},
	} {
		if _, err := inv.CreateBundle(ctx, bad.req); status(err) != bad.want {
			t.Errorf("CreateBundle(%+v): %v, want %d", bad.req, err, bad.want)
		}
	}

	created, err := inv.CreateBundle(ctx, api.BundleRequest{Flags: []string{env.flagIDs["b"], env.flagIDs["a"]}, Title: "Case 9", PDF: true})
	if err != nil {
		t.Fatal(err)
	}
	if created.Captures != 2 || created.Key != "bundles/"+created.ID+".wacz" || created.KeyID != storage.Fingerprint(env.signer.PublicKey()) {
		t.Errorf("created %+v", created)
	}
	var buf bytes.Buffer
	n, err := inv.DownloadBundle(ctx, created.ID, &buf)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	if n != created.Bytes || hex.EncodeToString(sum[:]) != created.SHA256 {
		t.Errorf("downloaded %d bytes %x; created says %d, %s", n, sum, created.Bytes, created.SHA256)
	}
	stored, err := os.ReadFile(filepath.Join(env.store.Root(), "bundles", created.ID+".wacz"))
	if err != nil || !bytes.Equal(stored, buf.Bytes()) {
		t.Errorf("the stored bundle differs from the download (%v)", err)
	}
	res, err := storage.VerifyBundle(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), storage.BundleTrust{PublicKey: env.signer.PublicKey()})
	if err != nil || !res.OK {
		t.Fatalf("downloaded bundle does not verify: %v %+v", err, res)
	}
	if names := strings.Join(zipNames(t, buf.Bytes()), " "); !strings.Contains(names, storage.BundleReportPDF) ||
		!strings.Contains(names, "archive/a.warc.gz") || !strings.Contains(names, "archive/b.warc.gz") {
		t.Errorf("bundle files: %s", names)
	}

	// The download was recorded in the custody log as an export.
	entries, err := inv.Custody(ctx, url.Values{"object": {created.Key}})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != storage.ActionExport || entries[0].Actor != "investigator-user" {
		t.Errorf("custody entries for %s: %+v", created.Key, entries)
	}

	// WACZ readers fetch parts of a bundle with range requests.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.srv.URL+"/api/v1/bundles/"+created.ID, nil)
	req.Header.Set("Authorization", "Bearer "+env.tokens[api.RoleInvestigator])
	req.Header.Set("Range", "bytes=0-3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, buf.Bytes()[:4]) {
		t.Errorf("range request: %d %q", resp.StatusCode, part)
	}

	// A sweep's captures; a bundle that is not there.
	sweep, err := inv.CreateBundle(ctx, api.BundleRequest{Sweep: "s1", FlaggedOnly: true})
	if err != nil || sweep.Captures != 2 || sweep.ID == created.ID {
		t.Errorf("sweep bundle: %+v, %v", sweep, err)
	}
	if _, err := inv.DownloadBundle(ctx, "aaaaaaaaaaaaaaaa", io.Discard); status(err) != http.StatusNotFound {
		t.Errorf("download of an unknown bundle: %v", err)
	}
	if _, err := env.client(api.RoleMonitor).DownloadBundle(ctx, created.ID, io.Discard); status(err) != http.StatusForbidden {
		t.Errorf("a monitor downloaded a bundle: %v", err)
	}
}

func TestBundlesAPIRefuses(t *testing.T) {
	t.Parallel()
	t.Run("changed evidence", func(t *testing.T) {
		t.Parallel()
		env := setupBundles(t, true)
		path := filepath.Join(env.store.Root(), filepath.FromSlash(env.recs["a"].WARCKey))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		_ = os.Chmod(path, 0o644)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = env.client(api.RoleInvestigator).CreateBundle(t.Context(), api.BundleRequest{Sweep: "s1"})
		if status(err) != http.StatusConflict || !strings.Contains(err.Error(), env.recs["a"].WARCKey) {
			t.Errorf("bundle of changed evidence: %v; want 409 naming %s", err, env.recs["a"].WARCKey)
		}
	})
	t.Run("no key", func(t *testing.T) {
		t.Parallel()
		env := setupBundles(t, false)
		_, err := env.client(api.RoleInvestigator).CreateBundle(t.Context(), api.BundleRequest{Sweep: "s1"})
		if status(err) != http.StatusServiceUnavailable {
			t.Errorf("bundle without a signing key: %v; want 503", err)
		}
	})
}
