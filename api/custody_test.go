package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// custodyOf lists the whole custody log through the API.
func custodyOf(t *testing.T, c *api.Client) []storage.CustodyEntry {
	t.Helper()
	es, err := c.Custody(context.Background(), url.Values{"limit": {"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestEvidenceReadsAreLogged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	inv, admin := b.client(api.RoleInvestigator), b.client(api.RoleAdmin)

	var buf bytes.Buffer
	if err := inv.Download(ctx, "c1", "warc", &buf); err != nil {
		t.Fatal(err)
	}
	es := custodyOf(t, inv)
	if len(es) != 1 {
		t.Fatalf("custody log after one read: %+v", es)
	}
	e := es[0]
	if e.Seq != 1 || e.Actor != "investigator-user" || e.Role != api.RoleInvestigator || e.Action != storage.ActionReadWARC ||
		e.Object != "captures/s1/c1/abc.warc.gz" || !strings.HasPrefix(e.Remote, "127.0.0.1:") {
		t.Errorf("custody entry for the WARC read = %+v", e)
	}

	// Reads that send nothing are not accesses: refused by role, or of an
	// object that is not there.
	if err := b.client(api.RoleMonitor).Download(ctx, "c1", "warc", io.Discard); status(err) != 403 {
		t.Fatalf("monitor reading a WARC: %v", err)
	}
	if err := admin.Download(ctx, "c1", "manifest", io.Discard); status(err) != 404 {
		t.Fatalf("reading a manifest that is not stored: %v", err)
	}
	if err := admin.Download(ctx, "c1", "screenshot", io.Discard); status(err) != 404 {
		t.Fatalf("reading the screenshot of a static capture: %v", err)
	}
	if err := admin.Download(ctx, "c1", "warc", io.Discard); err != nil {
		t.Fatal(err)
	}
	es = custodyOf(t, admin)
	if len(es) != 2 || es[1].Actor != "admin-user" || es[1].Role != api.RoleAdmin || es[1].PrevHash != es[0].Hash {
		t.Fatalf("custody log after refused reads and an admin read: %+v", es)
	}

	// A HEAD request sends no evidence bytes but shows the object exists;
	// it is logged as such.
	req, err := http.NewRequest(http.MethodHead, b.srv.URL+"/api/v1/captures/c1/warc", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.tokens[api.RoleInvestigator])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	es = custodyOf(t, admin)
	if resp.StatusCode != 200 || len(es) != 3 || es[2].Detail != "HEAD request: headers only" {
		t.Fatalf("HEAD of a WARC = %d, custody log %+v", resp.StatusCode, es)
	}

	// Filters.
	got, err := inv.Custody(ctx, url.Values{"actor": {"admin-user"}})
	if err != nil || len(got) != 1 || got[0].Seq != 2 {
		t.Errorf("custody?actor=admin-user = %+v, %v", got, err)
	}
	got, err = inv.Custody(ctx, url.Values{"object": {"captures/s1/c1/abc.warc.gz"}, "newest": {"true"}, "limit": {"1"}})
	if err != nil || len(got) != 1 || got[0].Seq != 3 {
		t.Errorf("custody?object=…&newest=true&limit=1 = %+v, %v", got, err)
	}
	if _, err := inv.Custody(ctx, url.Values{"limit": {"-1"}}); status(err) != 400 {
		t.Errorf("custody?limit=-1: %v", err)
	}

	// Roles: investigators list, admins verify.
	if _, err := b.client(api.RoleMonitor).Custody(ctx, nil); status(err) != 403 {
		t.Errorf("monitor listing custody: %v", err)
	}
	if _, err := inv.VerifyCustody(ctx); status(err) != 403 {
		t.Errorf("investigator verifying custody: %v", err)
	}
	rep, err := admin.VerifyCustody(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 3 || rep.HeadHash != es[2].Hash {
		t.Errorf("custody verify = %+v", rep)
	}

	// A deleted custody object shows in the verification.
	if err := removeFile(b.store.Root(), storage.CustodyKey(1)); err != nil {
		t.Fatal(err)
	}
	rep, err = admin.VerifyCustody(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first := rep.First(); rep.OK || first == nil || first.Seq != 1 || first.Kind != storage.CustodyObjectMissing {
		t.Errorf("custody verify after deleting entry 1's object = %+v", rep)
	}
}

// failingStore refuses to store custody entries.
type failingStore struct{ *storage.Dir }

func (f failingStore) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) (wildwatch.ObjectInfo, error) {
	if strings.HasPrefix(key, storage.CustodyPrefix) {
		return wildwatch.ObjectInfo{}, errors.New("disk full")
	}
	return f.Dir.Put(ctx, key, r, size, ct)
}

// A read that cannot be recorded is refused, and nothing of the evidence
// is sent.
func TestEvidenceReadRefusedWhenNotLogged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := newServer(t, b, func(cfg *api.Config) {
		cfg.Custody = &storage.Custody{Catalog: b.catalog, Store: failingStore{b.store}}
	})
	c := &api.Client{BaseURL: srv.URL, Token: b.tokens[api.RoleInvestigator]}
	var buf bytes.Buffer
	err := c.Download(context.Background(), "c1", "warc", &buf)
	if status(err) != 503 || !strings.Contains(err.Error(), "custody log") {
		t.Fatalf("reading while the custody log fails: %v", err)
	}
	if strings.Contains(buf.String(), "warc bytes") {
		t.Errorf("evidence sent although its read was not recorded: %q", buf.String())
	}
	if es := custodyOf(t, c); len(es) != 0 {
		t.Errorf("custody log has %+v", es)
	}
}

// newServer serves b's catalog and store with another configuration.
func newServer(t *testing.T, b *bundle, edit func(*api.Config)) *httptest.Server {
	t.Helper()
	cfg := api.Config{Catalog: b.catalog, Evidence: b.store, Sweeps: b.sweeps, PublicKey: "ed25519:test"}
	edit(&cfg)
	s, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}
