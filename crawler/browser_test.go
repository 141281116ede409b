package crawler

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// delayedPage inserts its title 300ms after it loads, into a page exactly
// 3000 pixels tall.
const delayedPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Listing</title>
<style>body{margin:0} #tall{height:3000px;overflow:hidden}</style></head>
<body><div id="tall"><div id="slot"></div><p>static text</p></div>
<script>
setTimeout(function () {
  var h = document.createElement('h1');
  h.textContent = 'Carved ivory bangle';
  document.getElementById('slot').appendChild(h);
}, 300);
</script></body></html>`

func TestRenderDelayedContent(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/item/1":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("X-Test", "yes")
			fmt.Fprint(w, delayedPage)
		default:
			http.NotFound(w, r)
		}
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) { t.UserAgent = "wildwatch-test/1" })
	c, err := b.Render(t.Context(), tg, srv.URL+"/item/1", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if c.Rendered == nil {
		t.Fatal("no rendering")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Mode", c.Mode, wildwatch.RenderBrowser},
		{"Status", c.Status, 200},
		{"FinalURL", c.FinalURL, srv.URL + "/item/1"},
		{"Body", string(c.Body), delayedPage},
		{"Text", c.Text, delayedPage},
		{"Charset", c.Charset, "utf-8"},
		{"Header", c.Header.Get("X-Test"), "yes"},
		{"Proto", c.Proto, "HTTP/1.1"},
		{"RemoteIP", c.RemoteIP, "127.0.0.1"},
		{"UserAgent", c.UserAgent, "wildwatch-test/1"},
		{"sent User-Agent", c.RequestHeader.Get("User-Agent"), "wildwatch-test/1"},
		{"DOM has the inserted title", bytes.Contains(c.Rendered.DOM, []byte("<h1>Carved ivory bangle</h1>")), true},
		{"Viewport", c.Rendered.Viewport, wildwatch.Viewport{Width: 1280, Height: 800}},
		{"Browser", strings.Contains(c.Rendered.Browser, "Chrome/"), true},
		{"Warnings", len(c.Rendered.Warnings), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(c.Rendered.Screenshot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if cfg.Width != 1280 || cfg.Height != 3000 {
		t.Errorf("screenshot is %dx%d, want the full page, 1280x3000", cfg.Width, cfg.Height)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, r := range srv.requests {
		if r.URL.Path == "/item/1" && r.UserAgent() != "wildwatch-test/1" {
			t.Errorf("server saw User-Agent %q", r.UserAgent())
		}
	}
	if c.Rendered.Warnings != nil {
		t.Logf("warnings: %q", c.Rendered.Warnings)
	}
}

func TestRenderResponses(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	gbk, err := os.ReadFile("testdata/charset/gbk-header.html")
	if err != nil {
		t.Fatal(err)
	}
	const plain = "<html><body><h1>Tiger bone wine</h1></body></html>"
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			http.Redirect(w, r, "/hop", http.StatusFound)
		case "/hop":
			http.Redirect(w, r, "/gbk?id=7", http.StatusMovedPermanently)
		case "/gbk":
			w.Header().Set("Content-Type", "text/html; charset=GBK")
			w.Write(gbk)
		case "/gzip":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write([]byte(plain))
			zw.Close()
		case "/gone":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "<h1>No such listing</h1>")
		case "/empty404":
			w.WriteHeader(http.StatusNotFound)
		case "/broken":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "<h1>oops</h1>")
		case "/busy":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Browser.MaxWait = wildwatch.Duration(time.Second) })

	t.Run("redirects and GBK", func(t *testing.T) {
		c, err := b.Render(t.Context(), tg, srv.URL+"/start", wildwatch.PageListing)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if c.URL != srv.URL+"/start" || c.FinalURL != srv.URL+"/gbk?id=7" || c.Status != 200 {
			t.Errorf("URL %s, FinalURL %s, status %d", c.URL, c.FinalURL, c.Status)
		}
		if !bytes.Equal(c.Body, gbk) {
			t.Errorf("Body is not the server's GBK bytes: %q", c.Body)
		}
		if c.Charset != "gbk" || c.Text != page("", zhHans) {
			t.Errorf("charset %q, text %q", c.Charset, c.Text)
		}
		if !bytes.Contains(c.Rendered.DOM, []byte("出售象牙手镯")) {
			t.Errorf("DOM is not UTF-8 with the Chinese text: %q", c.Rendered.DOM)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		c, err := b.Render(t.Context(), tg, srv.URL+"/gzip", wildwatch.PageListing)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if string(c.Body) != plain || c.Header.Get("Content-Encoding") != "" {
			t.Errorf("body %q, Content-Encoding %q; want the decoded body as the static fetcher keeps it", c.Body, c.Header.Get("Content-Encoding"))
		}
	})
	for _, tt := range []struct {
		path      string
		status    int
		retryable bool
		after     time.Duration
		body      string
	}{
		{"/gone", 404, false, 0, "<h1>No such listing</h1>"},
		{"/empty404", 404, false, 0, ""},
		{"/broken", 500, true, 2 * time.Minute, "<h1>oops</h1>"},
		{"/busy", 429, true, 30 * time.Second, ""},
	} {
		t.Run(tt.path, func(t *testing.T) {
			c, err := b.Render(t.Context(), tg, srv.URL+tt.path, wildwatch.PageListing)
			fe := fetchError(t, err)
			if fe.Kind != wildwatch.ErrKindHTTP || fe.Status != tt.status || fe.Retryable != tt.retryable || fe.RetryAfter != tt.after {
				t.Errorf("error %v (%+v), want http %d retryable %v after %v", err, fe, tt.status, tt.retryable, tt.after)
			}
			if c == nil || c.Status != tt.status || string(c.Body) != tt.body || c.Rendered == nil {
				t.Fatalf("capture %+v, want one with status %d and body %q", c, tt.status, tt.body)
			}
		})
	}
	t.Run("redirect loop", func(t *testing.T) {
		c, err := b.Render(t.Context(), tg, srv.URL+"/loop", wildwatch.PageListing)
		if fe := fetchError(t, err); c != nil || fe.Kind != wildwatch.ErrKindHTTP || !errors.Is(err, ErrTooManyRedirects) {
			t.Errorf("capture %v, error %v (%+v), want too many redirects", c, err, fe)
		}
	})
	t.Run("redirect off the allowed hosts", func(t *testing.T) {
		other := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://localhost:"+srv.URL[len("http://127.0.0.1:"):]+"/gbk", http.StatusFound)
		}))
		c, err := b.Render(t.Context(), localTarget(other), other.URL+"/away", wildwatch.PageListing)
		if fe := fetchError(t, err); c != nil || fe.Kind != wildwatch.ErrKindGuard || !errors.Is(err, ErrHostNotAllowed) {
			t.Errorf("capture %v, error %v (%+v), want a guard error", c, err, fe)
		}
	})
}
