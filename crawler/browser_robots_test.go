package crawler

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// TestRenderSubrequestRobots: the requests a rendered page makes beyond
// its looks (frames, fetch, XHR), on its own host and on a resource host,
// obey each host's robots.txt: disallowed ones are failed by the browser,
// never sent, and counted in the capture's warnings. An image robots.txt
// disallows is loaded, as the page's looks are exempt.
func TestRenderSubrequestRobots(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	const robots = "User-agent: *\nDisallow: /private\n"
	cdn := newServerOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, robots)
			return
		}
		fmt.Fprint(w, "cdn")
	}))
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, robots)
		case "/item":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><html><body><h1>Pangolin scales</h1>
<img src="/private/pic.svg">
<iframe src="/private/frame"></iframe>
<iframe src="/frame"></iframe>
<p id="ok"></p>
<script>
fetch('/private/api').catch(() => {});
fetch('/api').then(r => r.text()).then(t => { document.getElementById('ok').textContent = t; });
fetch('%[1]s/private/data').catch(() => {});
fetch('%[1]s/open').catch(() => {});
const x = new XMLHttpRequest(); x.open('GET', '/private/xhr'); x.send();
</script></body></html>`, cdn.URL)
		case "/private/pic.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`)
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<p>part</p>")
		}
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) {
		t.Politeness.ObeyRobots = nil
		t.Browser.Wait = wildwatch.WaitNetworkIdle
		t.Browser.ResourceHosts = []string{"127.0.0.2"}
	})
	c, err := b.Render(t.Context(), tg, srv.URL+"/item", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if want := "blocked 4 requests: robots.txt"; !slices.Contains(c.Rendered.Warnings, want) {
		t.Errorf("warnings %q lack %q", c.Rendered.Warnings, want)
	}
	got := srv.paths()
	for _, p := range []string{"/robots.txt", "/item", "/private/pic.svg", "/frame", "/api"} {
		if !slices.Contains(got, p) {
			t.Errorf("server was asked %v, lacking %s", got, p)
		}
	}
	for _, p := range got {
		if strings.HasPrefix(p, "/private/") && p != "/private/pic.svg" {
			t.Errorf("server was asked %s, which robots.txt disallows", p)
		}
	}
	if got := cdn.paths(); !slices.Equal(got, []string{"/robots.txt", "/open"}) {
		t.Errorf("resource host was asked %v, want [/robots.txt /open]", got)
	}
}
