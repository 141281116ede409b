package api_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// TestConsolePageWeight keeps the console fast on a slow connection: what
// a browser must download for each main page (the page itself, gzipped as
// it is sent, and the stylesheet and script it links) stays within a
// budget, in bytes, and a page links one stylesheet and at most two
// scripts. A 40 KB page is about three seconds on a 128 kbit/s link.
func TestConsolePageWeight(t *testing.T) {
	st := stack(t)
	s := st.signIn(t, api.RoleAdmin)
	fs, err := st.Catalog.ListFlags(t.Context(), storage.FlagFilter{SweepID: st.SweepID})
	if err != nil || len(fs) == 0 {
		t.Fatalf("flags of the demo sweep: %d, %v", len(fs), err)
	}
	const pageBudget, assetBudget = 40 << 10, 24 << 10
	assets := map[string]int{}
	for _, path := range []string{"/", "/flags", "/flags/" + fs[0].ID, "/sweeps", "/sweeps/" + st.SweepID, "/listings", "/cases", "/admin/targets", "/admin/rules", "/admin/users"} {
		html, wire := fetchGzip(t, s, path)
		if wire > pageBudget {
			t.Errorf("%s is %d bytes gzipped, over the %d budget", path, wire, pageBudget)
		}
		css := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)"`).FindAllStringSubmatch(html, -1)
		js := regexp.MustCompile(`<script src="([^"]+)"`).FindAllStringSubmatch(html, -1)
		if len(css) != 1 || len(js) > 2 {
			t.Errorf("%s links %d stylesheets and %d scripts", path, len(css), len(js))
		}
		for _, m := range append(css, js...) {
			u := strings.ReplaceAll(m[1], "&amp;", "&")
			if _, ok := assets[u]; !ok {
				_, assets[u] = fetchGzip(t, s, u)
			}
		}
		t.Logf("%-28s %6d bytes gzipped (%d plain)", path, wire, len(html))
	}
	total := 0
	for u, n := range assets {
		total += n
		t.Logf("%-28s %6d bytes gzipped", u, n)
	}
	if total > assetBudget {
		t.Errorf("the stylesheet and scripts are %d bytes gzipped, over the %d budget", total, assetBudget)
	}
}

// fetchGzip loads path asking for gzip and returns the plain text and the
// bytes on the wire.
func fetchGzip(t *testing.T, s *session, path string) (string, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	wire, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", path, res.StatusCode)
	}
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET %s was not compressed", path)
	}
	zr, err := gzip.NewReader(bytes.NewReader(wire))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(plain), len(wire)
}
