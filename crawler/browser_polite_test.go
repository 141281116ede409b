package crawler

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func TestRenderBlocked(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	challenge, err := os.ReadFile("testdata/blocked/blocked-403-challenge.html")
	if err != nil {
		t.Fatal(err)
	}
	// The wall is built by the page's script: only the rendered DOM shows it.
	const lateWall = `<!doctype html><html><head><title>shop</title></head><body><main id="main"></main>
<script>
var d = document.createElement('div');
d.id = 'px-captcha';
d.textContent = 'hold the button';
document.getElementById('main').appendChild(d);
</script></body></html>`
	tests := []struct {
		name    string
		status  int
		body    string
		blocked bool
	}{
		{"challenge page", http.StatusForbidden, string(challenge), true},
		{"wall built by script", http.StatusOK, lateWall, true},
		{"listing", http.StatusOK, "<html><body><h1>Tortoise shell comb</h1></body></html>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A server each: a block page holds its host back.
			srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			tg := localTarget(srv, func(t *wildwatch.Target) {
				t.Browser.Wait = wildwatch.WaitLoad
				t.Browser.MaxWait = wildwatch.Duration(5 * time.Second)
			})
			c, err := b.Render(t.Context(), tg, srv.URL+"/item", wildwatch.PageListing)
			if c == nil || c.Rendered == nil || len(c.Rendered.Screenshot) == 0 || c.Status != tt.status || string(c.Body) != tt.body {
				t.Fatalf("capture %+v (error %v), want the page with its rendering", c, err)
			}
			if !tt.blocked {
				if err != nil {
					t.Errorf("Render: %v", err)
				}
				return
			}
			fe := fetchError(t, err)
			if fe.Kind != wildwatch.ErrKindBlocked || !fe.Retryable || fe.RetryAfter < BlockedBackoff || fe.Status != tt.status {
				t.Errorf("error %v (%+v), want blocked, retryable after %v", err, fe, BlockedBackoff)
			}
			asked := len(srv.paths())
			_, err = b.Render(t.Context(), tg, srv.URL+"/next", wildwatch.PageListing)
			if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindThrottled {
				t.Errorf("render after the block page: %v, want throttled", err)
			}
			if got := srv.paths(); len(got) != asked {
				t.Errorf("the host was asked %v after a block page", got[asked:])
			}
		})
	}
}

// galleryServer serves /gallery, a listing with four images, /go, a
// redirect to /private/1, and robots.txt.
func galleryServer(t *testing.T, robots string) *timedServer {
	return newTimedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt":
			fmt.Fprint(w, robots)
		case r.URL.Path == "/gallery":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><html><body><h1>Hornbill casque</h1><img src="/img/1.svg"><img src="/img/2.svg"><img src="/img/3.svg"><img src="/img/4.svg"></body></html>`)
		case r.URL.Path == "/go":
			http.Redirect(w, r, "/private/1", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/img/"):
			w.Header().Set("Content-Type", "image/svg+xml")
			fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`)
		default:
			fmt.Fprint(w, "<h1>page</h1>")
		}
	}))
}

// TestRenderRobots checks robots.txt on the main document's redirects and
// the Crawl-delay on every request of a rendered page.
func TestRenderRobotsPoliteness(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	const delay = 250 * time.Millisecond
	srv := galleryServer(t, "User-agent: *\nDisallow: /private\nCrawl-delay: 0.25\n")
	tg := localTarget(srv.testServer, obeying, func(t *wildwatch.Target) {
		t.Name = "render-robots"
		t.Browser.Wait = wildwatch.WaitNetworkIdle
	})

	c, err := b.Render(t.Context(), tg, srv.URL+"/go", wildwatch.PageListing)
	if fe := fetchError(t, err); c != nil || fe.Kind != wildwatch.ErrKindRobots || !errors.Is(err, ErrRobots) {
		t.Errorf("redirect to a disallowed page: capture %v, error %v, want robots", c != nil, err)
	}
	if n := len(srv.arrivals("/private/1")); n != 0 {
		t.Errorf("the disallowed page was asked for %d times", n)
	}

	begin := time.Now()
	if _, err := b.Render(t.Context(), tg, srv.URL+"/gallery", wildwatch.PageListing); err != nil {
		t.Fatalf("gallery: %v", err)
	}
	var times []time.Time
	for _, p := range []string{"/gallery", "/img/1.svg", "/img/2.svg", "/img/3.svg", "/img/4.svg"} {
		ts := srv.arrivals(p)
		if len(ts) != 1 {
			t.Fatalf("%s asked for %d times, want once", p, len(ts))
		}
		times = append(times, ts[0])
	}
	last := slices.MaxFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	if least := 4 * delay; last.Sub(begin) < least-time.Millisecond {
		t.Errorf("page and four images served within %v, want %v at least", last.Sub(begin), least)
	}
	if n := len(srv.arrivals("/robots.txt")); n != 1 {
		t.Errorf("robots.txt asked for %d times, want once", n)
	}
}

// TestRenderDailyCap checks that the requests a rendered page makes count
// against the cap, and that a spent cap fails a Render at once.
func TestRenderDailyCap(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	srv := galleryServer(t, "")
	tg := localTarget(srv.testServer, func(t *wildwatch.Target) {
		// The shared browser's counts outlive the test: a name of its own.
		t.Name = "render-cap-" + strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
		t.Politeness.DailyRequests = 2
		t.Browser.Wait = wildwatch.WaitNetworkIdle
	})
	c, err := b.Render(t.Context(), tg, srv.URL+"/gallery", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !slices.Contains(c.Rendered.Warnings, "blocked 3 requests: daily request cap spent") {
		t.Errorf("warnings %q, want one for the images over the cap", c.Rendered.Warnings)
	}
	if got := srv.paths(); len(got) != 2 || got[0] != "/gallery" {
		t.Errorf("server was asked %v, want the page and one image", got)
	}
	_, err = b.Render(t.Context(), tg, srv.URL+"/gallery", wildwatch.PageListing)
	if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindCapped || !fe.Retryable || fe.RetryAfter <= 0 {
		t.Errorf("Render over the cap: %v (%+v), want capped", err, fe)
	}
	if got := srv.paths(); len(got) != 2 {
		t.Errorf("server was asked %v over the cap", got[2:])
	}
}
