package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
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

// custodyCLI runs wildwatch in this process with env as its environment.
func custodyCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, streams{in: strings.NewReader(""), out: &out, err: &errb}, func(k string) string { return env[k] })
	if errb.Len() > 0 {
		t.Logf("wildwatch %s stderr:\n%s", strings.Join(args, " "), errb.String())
	}
	return out.String(), errb.String(), code
}

// custodyData makes a data directory holding one static capture, c1, with
// its WARC.
func custodyData(t *testing.T) (data string, cat *storage.Catalog, store *storage.Dir) {
	t.Helper()
	ctx := context.Background()
	data = t.TempDir()
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(data, "wildwatch.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if store, err = storage.NewDir(filepath.Join(data, "evidence")); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := cat.CreateSweep(ctx, wildwatch.Sweep{ID: "s1", Target: "demo", Status: wildwatch.SweepRunning, CreatedAt: now}, wildwatch.Target{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "captures/s1/c1/abc.warc.gz", strings.NewReader("warc bytes"), 10, storage.ContentTypeWARC); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.PutCapture(ctx, storage.CaptureRecord{
		Capture:     wildwatch.Capture{ID: "c1", SweepID: "s1", Target: "demo", URL: "http://x/item/1", FinalURL: "http://x/item/1", Status: 200, StartedAt: now, FetchedAt: now},
		ManifestKey: "captures/s1/c1.manifest.json", WARCKey: "captures/s1/c1/abc.warc.gz",
	}); err != nil {
		t.Fatal(err)
	}
	return data, cat, store
}

func TestCustodyLocalCLI(t *testing.T) {
	t.Parallel()
	data, _, _ := custodyData(t)
	out := filepath.Join(t.TempDir(), "c1.warc.gz")

	if _, _, code := custodyCLI(t, nil, "capture", "warc", "c1", "--data", data, "-o", out); code != 0 {
		t.Fatalf("capture warc --data exited %d", code)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "warc bytes" {
		t.Fatalf("local read wrote %q, %v", b, err)
	}
	// A read that finds nothing is not logged.
	if _, _, code := custodyCLI(t, nil, "capture", "screenshot", "c1", "--data", data); code != 1 {
		t.Errorf("capture screenshot of a static capture exited %d, want 1", code)
	}

	stdout, _, code := custodyCLI(t, nil, "custody", "list", "--data", data)
	if code != 0 {
		t.Fatalf("custody list exited %d", code)
	}
	var es []storage.CustodyEntry
	if err := json.Unmarshal([]byte(stdout), &es); err != nil {
		t.Fatalf("custody list output %q: %v", stdout, err)
	}
	if len(es) != 1 {
		t.Fatalf("custody log after one local read: %+v", es)
	}
	if e := es[0]; e.Actor != localActor(os.Getenv) || e.Role != storage.CustodyRoleLocal || e.Action != storage.ActionReadWARC ||
		e.Object != "captures/s1/c1/abc.warc.gz" || !strings.HasPrefix(e.Remote, "local") {
		t.Errorf("local read entry = %+v", e)
	}
	stdout, _, _ = custodyCLI(t, nil, "custody", "list", "--data", data, "--object", "captures/s1/none")
	if strings.TrimSpace(stdout) != "[]" {
		t.Errorf("custody list --object of an object never read = %q", stdout)
	}

	stdout, _, code = custodyCLI(t, nil, "custody", "verify", "--data", data)
	if code != 0 || !strings.HasPrefix(stdout, "ok ") || !strings.Contains(stdout, "1 entries") {
		t.Fatalf("custody verify = %d %q", code, stdout)
	}

	if err := os.Remove(filepath.Join(data, "evidence", filepath.FromSlash(storage.CustodyKey(1)))); err != nil {
		t.Fatal(err)
	}
	stdout, _, code = custodyCLI(t, nil, "custody", "verify", "--data", data)
	if code != 1 || !strings.HasPrefix(stdout, "BROKEN at entry 1 (object-missing)") {
		t.Errorf("custody verify after deleting an entry's object = %d %q", code, stdout)
	}
	stdout, _, code = custodyCLI(t, nil, "custody", "verify", "--data", data, "--json")
	var rep storage.CustodyReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 1 || rep.OK || rep.First().Kind != storage.CustodyObjectMissing {
		t.Errorf("custody verify --json = %d %q (%v)", code, stdout, err)
	}
}

func TestLinkCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, cat, store := custodyData(t)
	links, err := storage.NewLinkSigner(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Catalog: cat, Evidence: store, Sweeps: noSweeps{}, Links: links})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	env := map[string]string{}
	for _, role := range []string{api.RoleInvestigator, api.RoleAdmin} {
		tok, hash, err := api.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := cat.PutToken(ctx, storage.Token{Name: role + "-cli", Role: role, Hash: hash}); err != nil {
			t.Fatal(err)
		}
		env[role] = tok
	}
	as := func(role string) map[string]string { return map[string]string{"WILDWATCH_TOKEN": env[role]} }

	if _, _, code := custodyCLI(t, as(api.RoleInvestigator), "link", "create", "--server", hs.URL); code != 2 {
		t.Errorf("link create without --capture or --key exited %d, want 2", code)
	}
	stdout, _, code := custodyCLI(t, as(api.RoleInvestigator), "link", "create", "--server", hs.URL, "--capture", "c1", "--expires", "2h")
	if code != 0 {
		t.Fatalf("link create exited %d", code)
	}
	linkURL := strings.TrimSpace(stdout)
	if !strings.HasPrefix(linkURL, hs.URL+"/links/") {
		t.Fatalf("link create printed %q", stdout)
	}
	resp, err := http.Get(linkURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "warc bytes" {
		t.Fatalf("GET %s = %d %q", linkURL, resp.StatusCode, body)
	}

	stdout, _, code = custodyCLI(t, as(api.RoleInvestigator), "custody", "list", "--server", hs.URL, "--action", storage.ActionLinkUse)
	var es []storage.CustodyEntry
	if err := json.Unmarshal([]byte(stdout), &es); err != nil || code != 0 {
		t.Fatalf("custody list --server = %d %q: %v", code, stdout, err)
	}
	if len(es) != 1 || es[0].Actor != "link" || es[0].Link == "" || es[0].Object != "captures/s1/c1/abc.warc.gz" {
		t.Errorf("link-use entries = %+v", es)
	}
	stdout, _, code = custodyCLI(t, as(api.RoleAdmin), "custody", "verify", "--server", hs.URL)
	if code != 0 || !strings.Contains(stdout, "2 entries") {
		t.Errorf("custody verify --server = %d %q", code, stdout)
	}
	if _, _, code := custodyCLI(t, as(api.RoleInvestigator), "custody", "verify", "--server", hs.URL); code != 1 {
		t.Errorf("custody verify by an investigator exited %d, want 1 (refused)", code)
	}
}

// noSweeps starts no sweeps.
type noSweeps struct{}

func (noSweeps) StartSweep(context.Context, string) (wildwatch.Sweep, error) {
	return wildwatch.Sweep{}, storage.ErrNotFound
}
