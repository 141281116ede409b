package demosite

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"
	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testBundle is a running site and what the tests look at.
type testBundle struct {
	site   *Site
	srv    *httptest.Server
	client *http.Client

	mu       sync.Mutex
	requests []string // "METHOD path?query" of every request received
}

// setup starts the site on a test server with a short slow delay.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{}
	b.site = New(Config{
		Logger:    slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SlowDelay: time.Millisecond,
		Log: func(r *http.Request) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.requests = append(b.requests, r.Method+" "+r.URL.RequestURI())
		},
	})
	b.srv = httptest.NewServer(b.site)
	t.Cleanup(b.srv.Close)
	noRedirects := *b.srv.Client() // shares the server's transport
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b.client = &noRedirects
	return b
}

// tWriter routes log output to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// get fetches path without following redirects.
func (b *testBundle) get(t *testing.T, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, body
}

// withRole returns the first listing playing role.
func withRole(t *testing.T, s *Site, role int) Listing {
	t.Helper()
	for _, l := range s.cat.listings {
		if s.cat.roles[l.ID] == role {
			return l
		}
	}
	t.Fatalf("no listing with role %d", role)
	return Listing{}
}

func TestRobotsTxt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.get(t, http.MethodGet, "/robots.txt")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	want := "# Demo Market\nUser-agent: *\nDisallow: /private/\n"
	if string(body) != want {
		t.Errorf("robots.txt = %q, want %q", body, want)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	public := withRole(t, b.site, roleNone)
	private := withRole(t, b.site, rolePrivate)
	broken := withRole(t, b.site, roleBroken)
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		location           string
	}{
		{"home", "GET", "/", 200, "text/html; charset=utf-8", ""},
		{"listing", "GET", public.Path, 200, "text/html; charset=utf-8", ""},
		{"listing HEAD", "HEAD", public.Path, 200, "text/html; charset=utf-8", ""},
		{"private listing", "GET", private.Path, 200, "text/html; charset=utf-8", ""},
		{"private listing under /item/", "GET", "/item/" + private.ID, 404, "text/html; charset=utf-8", ""},
		{"public listing under /private/", "GET", "/private/item/" + public.ID, 404, "text/html; charset=utf-8", ""},
		{"missing listing", "GET", "/item/400017", 404, "text/html; charset=utf-8", ""},
		{"failing listing", "GET", broken.Path, 500, "text/plain; charset=utf-8", ""},
		{"failing listing HEAD", "HEAD", broken.Path, 500, "text/plain; charset=utf-8", ""},
		{"redirect", "GET", "/go/" + public.ID, 302, "text/plain; charset=utf-8", public.Path},
		{"redirect to missing", "GET", "/go/400017", 404, "text/html; charset=utf-8", ""},
		{"unknown path", "GET", "/nope", 404, "text/html; charset=utf-8", ""},
		{"unknown category", "GET", "/category/weapons", 404, "text/html; charset=utf-8", ""},
		{"page past the end", "GET", "/category/all?page=999", 404, "text/html; charset=utf-8", ""},
		{"bad page", "GET", "/search?q=&page=zero", 400, "text/plain; charset=utf-8", ""},
		{"page zero", "GET", "/category/all?page=0", 400, "text/plain; charset=utf-8", ""},
		{"search without results", "GET", "/search?q=zzzzzz", 200, "text/html; charset=utf-8", ""},
		{"POST", "POST", "/", 405, "text/plain; charset=utf-8", ""},
		{"unknown image", "GET", "/img/1-1.png", 404, "text/html; charset=utf-8", ""},
		{"image", "GET", public.Images[0], 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.get(t, tt.method, tt.path)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.contentType != "" && resp.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.contentType)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if tt.method == http.MethodHead {
				if len(body) != 0 {
					t.Errorf("HEAD answered with a %d-byte body", len(body))
				}
				if n, _ := strconv.Atoi(resp.Header.Get("Content-Length")); n == 0 {
					t.Errorf("HEAD without Content-Length")
				}
			}
		})
	}
}

func TestImages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seen := map[string]bool{}
	for _, l := range b.site.Listings()[:40] {
		for _, p := range l.Images {
			resp, body := b.get(t, http.MethodGet, p)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", p, resp.StatusCode)
			}
			ct := resp.Header.Get("Content-Type")
			seen[ct] = true
			switch ct {
			case "image/png":
				if _, err := png.Decode(bytes.NewReader(body)); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			case "image/svg+xml":
				if !bytes.HasPrefix(body, []byte("<svg ")) {
					t.Errorf("%s: not an SVG document: %.40q", p, body)
				}
			default:
				t.Errorf("%s: Content-Type %q", p, ct)
			}
		}
	}
	if !seen["image/png"] || !seen["image/svg+xml"] {
		t.Errorf("image types served: %v, want PNG and SVG", seen)
	}
}

func TestSlowPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := withRole(t, b.site, roleSlow)
	resp, body := b.get(t, http.MethodGet, slow.Path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := parseHTML(t, body).Find("h1.title").Text(); got != slow.Title {
		t.Errorf("slow page title %q, want %q", got, slow.Title)
	}
	if slow.Label != LabelPositive || !slow.Reachable {
		t.Errorf("slow listing should be a reachable positive: %+v", slow)
	}
}

func TestSlowPageGivesUpWhenTheClientDoes(t *testing.T) {
	t.Parallel()
	s := New(Config{SlowDelay: time.Hour})
	slow := withRole(t, s, roleSlow)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, slow.Path, nil)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("slow page still waiting after its request was cancelled")
	}
	if rec.Body.Len() != 0 {
		t.Errorf("cancelled request got a body: %q", rec.Body.String())
	}
}

func TestGBKPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := withRole(t, b.site, roleGBK)
	if l.Lang != "zh" || l.Label != LabelPositive || !l.Reachable {
		t.Fatalf("GBK listing should be a reachable Chinese positive: %+v", l)
	}
	resp, body := b.get(t, http.MethodGet, l.Path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=gbk" {
		t.Errorf("Content-Type %q", ct)
	}
	if utf8.Valid(body) {
		t.Error("GBK page body is valid UTF-8; it should be GBK bytes")
	}
	if bytes.Contains(body, []byte("象牙")) {
		t.Error("GBK page holds UTF-8 encoded Chinese")
	}
	text, err := simplifiedchinese.GBK.NewDecoder().Bytes(body)
	if err != nil {
		t.Fatalf("decoding GBK: %v", err)
	}
	for _, want := range []string{`<meta charset="gbk">`, `<h1 class="title">` + l.Title + `</h1>`, "象牙手镯", l.Description} {
		if !strings.Contains(string(text), want) {
			t.Errorf("decoded page lacks %q", want)
		}
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all := len(b.site.cat.entries)
	tests := []struct {
		start string
		total int
	}{
		{"/category/all", all},
		{"/search?q=", all},
		{"/search?q=ivory", countMatching(b.site, "ivory")},
		{"/search?q=%E8%B1%A1%E7%89%99", countMatching(b.site, "象牙")},
		{"/category/pets", countSection(b.site, "pets")},
	}
	for _, tt := range tests {
		t.Run(tt.start, func(t *testing.T) {
			if tt.total == 0 {
				t.Fatal("index is empty")
			}
			pages, links := 0, 0
			for next := tt.start; next != ""; {
				resp, body := b.get(t, http.MethodGet, next)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d", next, resp.StatusCode)
				}
				doc := parseHTML(t, body)
				n := doc.Find("a.listing-link").Length()
				if n == 0 || n > PageSize {
					t.Errorf("%s: %d listing links", next, n)
				}
				links += n
				pages++
				next, _ = doc.Find("a.next").Attr("href")
			}
			if links != tt.total {
				t.Errorf("%d listing links over %d pages, want %d", links, pages, tt.total)
			}
			if want := (tt.total + PageSize - 1) / PageSize; pages != want {
				t.Errorf("%d pages, want %d", pages, want)
			}
		})
	}
}

func countMatching(s *Site, q string) int {
	n := 0
	for _, e := range s.cat.entries {
		if strings.Contains(e.text, q) {
			n++
		}
	}
	return n
}

func countSection(s *Site, slug string) int {
	n := 0
	for _, e := range s.cat.entries {
		if e.section == slug {
			n++
		}
	}
	return n
}
