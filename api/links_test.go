package api_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/internal/s3test"
	"github.com/wildwatch/wildwatch/storage"
)

func removeFile(root, key string) error {
	return os.Remove(filepath.Join(root, filepath.FromSlash(key)))
}

// get fetches rawURL with plain net/http, without a token.
func get(t *testing.T, rawURL string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func newLinkSigner(t *testing.T) *storage.LinkSigner {
	t.Helper()
	l, err := storage.NewLinkSigner([]byte(rand.Text() + rand.Text()))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSignedLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	links := newLinkSigner(t)
	srv := newServer(t, b, func(cfg *api.Config) { cfg.Links = links })
	inv := &api.Client{BaseURL: srv.URL, Token: b.tokens[api.RoleInvestigator]}

	link, err := inv.CreateLink(ctx, api.LinkRequest{Capture: "c1", Object: "warc", Expires: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if link.Kind != api.LinkSigned || link.Key != "captures/s1/c1/abc.warc.gz" || link.ID == "" ||
		!strings.HasPrefix(link.URL, srv.URL+"/links/") {
		t.Fatalf("created link = %+v", link)
	}
	if d := time.Until(link.Expires); d <= 0 || d > time.Hour {
		t.Errorf("link expires %v, want within the hour asked for", link.Expires)
	}

	// Valid: anyone holding it reads the object, byte for byte.
	resp, body := get(t, link.URL)
	if resp.StatusCode != 200 || body != "warc bytes" {
		t.Fatalf("GET link = %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Evidence-Key") != link.Key {
		t.Errorf("link answer headers = %v", resp.Header)
	}

	es := custodyOf(t, inv)
	if len(es) != 2 {
		t.Fatalf("custody log after creating and using a link: %+v", es)
	}
	create, use := es[0], es[1]
	if create.Action != storage.ActionLinkCreate || create.Actor != "investigator-user" || create.Role != api.RoleInvestigator ||
		create.Link != link.ID || create.Object != link.Key || !strings.Contains(create.Detail, link.Expires.Format(time.RFC3339)) {
		t.Errorf("link-create entry = %+v", create)
	}
	if use.Action != storage.ActionLinkUse || use.Actor != "link" || use.Role != storage.CustodyRoleLink ||
		use.Link != link.ID || use.Object != link.Key || use.Remote == "" {
		t.Errorf("link-use entry = %+v", use)
	}

	// Altered: any changed character of the token.
	token := strings.TrimPrefix(link.URL, srv.URL+"/links/")
	for _, pos := range []int{0, len(token) / 2, len(token) - 1} {
		for _, c := range []byte{'A', 'B'} {
			if token[pos] == c {
				continue
			}
			altered := token[:pos] + string(c) + token[pos+1:]
			resp, body := get(t, srv.URL+"/links/"+altered)
			if resp.StatusCode != 403 || !strings.Contains(body, "not valid") {
				t.Errorf("GET link altered at %d = %d %s", pos, resp.StatusCode, body)
			}
		}
	}
	if resp, body := get(t, link.URL[:len(link.URL)-4]); resp.StatusCode != 403 || !strings.Contains(body, "not valid") {
		t.Errorf("GET link cut short = %d %s", resp.StatusCode, body)
	}

	// Expired: a genuine link whose time is up.
	expired, err := links.Sign(storage.LinkClaims{ID: "old", Key: link.Key, Expires: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, srv.URL+"/links/"+expired)
	if resp.StatusCode != 403 || !strings.Contains(body, "expired at") {
		t.Errorf("GET expired link = %d %s", resp.StatusCode, body)
	}
	// Another deployment's link.
	foreign, err := newLinkSigner(t).Sign(storage.LinkClaims{ID: "x", Key: link.Key, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, srv.URL+"/links/"+foreign); resp.StatusCode != 403 || !strings.Contains(body, "not valid") {
		t.Errorf("GET another deployment's link = %d %s", resp.StatusCode, body)
	}
	if es := custodyOf(t, inv); len(es) != 2 {
		t.Errorf("refused link uses were logged: %+v", es[2:])
	}

	// By key.
	byKey, err := inv.CreateLink(ctx, api.LinkRequest{Key: "captures/s1/c1/abc.warc.gz"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, byKey.URL); resp.StatusCode != 200 || body != "warc bytes" {
		t.Errorf("GET link by key = %d %q", resp.StatusCode, body)
	}
	if d := time.Until(byKey.Expires); d <= 23*time.Hour || d > 24*time.Hour {
		t.Errorf("default expiry %v, want 24h from now", byKey.Expires)
	}
}

func TestCreateLinkRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	srv := newServer(t, b, func(cfg *api.Config) { cfg.Links = newLinkSigner(t) })
	inv := &api.Client{BaseURL: srv.URL, Token: b.tokens[api.RoleInvestigator]}
	tests := []struct {
		name   string
		client *api.Client
		req    api.LinkRequest
		want   int
	}{
		{"monitor", &api.Client{BaseURL: srv.URL, Token: b.tokens[api.RoleMonitor]}, api.LinkRequest{Capture: "c1"}, 403},
		{"no token", &api.Client{BaseURL: srv.URL}, api.LinkRequest{Capture: "c1"}, 401},
		{"neither capture nor key", inv, api.LinkRequest{}, 400},
		{"both capture and key", inv, api.LinkRequest{Capture: "c1", Key: "captures/s1/c1/abc.warc.gz"}, 400},
		{"unknown object", inv, api.LinkRequest{Capture: "c1", Object: "pdf"}, 400},
		{"unknown capture", inv, api.LinkRequest{Capture: "nope"}, 404},
		{"static capture's screenshot", inv, api.LinkRequest{Capture: "c1", Object: "screenshot"}, 404},
		{"object not stored", inv, api.LinkRequest{Capture: "c1", Object: "manifest"}, 404},
		{"key not stored", inv, api.LinkRequest{Key: "captures/s1/none.warc.gz"}, 404},
		{"eight days", inv, api.LinkRequest{Capture: "c1", Expires: "8d"}, 400},
		{"negative", inv, api.LinkRequest{Capture: "c1", Expires: "-1h"}, 400},
		{"not a duration", inv, api.LinkRequest{Capture: "c1", Expires: "tomorrow"}, 400},
	}
	for _, tc := range tests {
		if _, err := tc.client.CreateLink(ctx, tc.req); status(err) != tc.want {
			t.Errorf("%s: %v, want status %d", tc.name, err, tc.want)
		}
	}
	if es := custodyOf(t, inv); len(es) != 0 {
		t.Errorf("refused link requests were logged: %+v", es)
	}

	// Without a link key, a directory store has no share links.
	plain := &api.Client{BaseURL: b.srv.URL, Token: b.tokens[api.RoleInvestigator]}
	if _, err := plain.CreateLink(ctx, api.LinkRequest{Capture: "c1"}); status(err) != 501 {
		t.Errorf("creating a link without a link key: %v, want 501", err)
	}
	if resp, _ := get(t, b.srv.URL+"/links/abc.def"); resp.StatusCode != 404 {
		t.Errorf("GET /links/ on a server without a link key = %d", resp.StatusCode)
	}
}

// On S3 a link is a presigned URL that plain net/http fetches from the S3
// server itself.
func TestPresignedLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	s3srv, err := s3test.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s3srv.Stop(); err != nil {
			t.Error(err)
		}
	})
	store, err := storage.NewS3(ctx, storage.S3Config{Endpoint: s3srv.Endpoint, Bucket: "evidence", AccessKey: s3srv.AccessKey,
		SecretKey: s3srv.SecretKey, Region: s3test.Region, CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	const key, data = "captures/s1/c1/abc.warc.gz", "warc bytes on S3"
	if _, err := store.Put(ctx, key, strings.NewReader(data), int64(len(data)), storage.ContentTypeWARC); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, b, func(cfg *api.Config) { cfg.Evidence = store })
	inv := &api.Client{BaseURL: srv.URL, Token: b.tokens[api.RoleInvestigator]}

	link, err := inv.CreateLink(ctx, api.LinkRequest{Capture: "c1", Expires: "2h"})
	if err != nil {
		t.Fatal(err)
	}
	if link.Kind != api.LinkPresigned || !strings.HasPrefix(link.URL, s3srv.URL()+"/evidence/") {
		t.Fatalf("link on S3 = %+v", link)
	}
	resp, body := get(t, link.URL)
	if resp.StatusCode != 200 || body != data {
		t.Fatalf("GET presigned link = %d %q", resp.StatusCode, body)
	}
	// Altered: the signature no longer matches.
	if resp, _ := get(t, strings.Replace(link.URL, "X-Amz-Expires=7200", "X-Amz-Expires=7201", 1)); resp.StatusCode != 403 {
		t.Errorf("GET presigned link with a changed expiry = %d", resp.StatusCode)
	}
	es := custodyOf(t, inv)
	if len(es) != 1 || es[0].Action != storage.ActionLinkCreate || es[0].Link != link.ID || !strings.Contains(es[0].Detail, api.LinkPresigned) {
		t.Errorf("custody log after creating a presigned link: %+v", es)
	}
	// The custody entry itself went to S3.
	if _, err := store.Stat(ctx, storage.CustodyKey(1)); err != nil {
		t.Errorf("custody object on S3: %v", err)
	}
}
