package crawler

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// newServerOn is a testServer listening on ip (any of 127.0.0.0/8).
func newServerOn(t *testing.T, ip string, h http.Handler) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listening on %s: %v", ip, err)
	}
	s := &testServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(t.Context()))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func hasPrefix(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func TestRenderBlocksResources(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	cdn := newServerOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`)
	}))
	other := newTestServer(t, http.NotFoundHandler())
	otherByName := "http://localhost:" + other.URL[len("http://127.0.0.1:"):]
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/item":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><html><head>
<style>@font-face { font-family: shop; src: url(/shop.woff2); } body { font-family: shop; }</style>
</head><body><h1>Pangolin scales</h1>
<video src="/clip.mp4" autoplay muted></video>
<img src="/ok.svg">
<img src="%s/other.svg">
<img src="%s/cdn.svg">
</body></html>`, otherByName, cdn.URL)
		case "/ok.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`)
		default:
			http.NotFound(w, r)
		}
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) {
		t.Browser.Wait = wildwatch.WaitNetworkIdle
		t.Browser.ResourceHosts = []string{"127.0.0.2"}
	})
	c, err := b.Render(t.Context(), tg, srv.URL+"/item", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	w := c.Rendered.Warnings
	for _, want := range []string{
		"blocked 1 request: resource type font",
		"blocked 1 request: host not in allowed_hosts or resource_hosts (localhost)",
	} {
		if !slices.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	if !hasPrefix(w, "blocked ") || !slices.ContainsFunc(w, func(s string) bool { return strings.HasSuffix(s, ": resource type media") }) {
		t.Errorf("warnings %q lack the blocked media", w)
	}
	got := srv.paths()
	for _, p := range []string{"/shop.woff2", "/clip.mp4"} {
		if slices.Contains(got, p) {
			t.Errorf("the server was asked for %s, which is blocked", p)
		}
	}
	if !slices.Contains(got, "/ok.svg") {
		t.Errorf("the server was asked %v, want /ok.svg among them", got)
	}
	if p := other.paths(); len(p) != 0 {
		t.Errorf("the host not allowed was asked %v", p)
	}
	if p := cdn.paths(); !slices.Equal(p, []string{"/cdn.svg"}) {
		t.Errorf("the resource host was asked %v, want /cdn.svg", p)
	}
}

func TestRenderAddressGuard(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	secret := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "secret")
	}))
	secretHTTPS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the guarded TLS server was asked %s", r.URL)
	}))
	t.Cleanup(secretHTTPS.Close)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><html><body><h1>Tortoiseshell comb</h1>
<img src="%s/secret.png"><img src="%s/secret.png">
<img src="%s/secret.png"><img src="%s/secret.png"></body></html>`, secret.URL, secretHTTPS.URL,
			byName(secret.URL), byName(secretHTTPS.URL))
	}))
	// srv stands in for a public address; the others stay loopback.
	u, _ := url.Parse(srv.URL)
	shared.public.Store(netip.MustParseAddrPort(u.Host), true)
	t.Cleanup(func() { shared.public.Delete(netip.MustParseAddrPort(u.Host)) })
	tg := localTarget(srv, func(t *wildwatch.Target) {
		t.Politeness.AllowPrivate = false
		t.Browser.Wait = wildwatch.WaitNetworkIdle
		t.Browser.ResourceHosts = []string{"localhost"}
	})

	c, err := b.Render(t.Context(), tg, srv.URL+"/item", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	// A literal address is refused before it is sent; for a name, the
	// proxy drops a refused http request and refuses a tunnel.
	for _, want := range []string{
		"blocked 2 requests: address guard",
		"1 request failed: net::ERR_EMPTY_RESPONSE",
		"1 request failed: net::ERR_TUNNEL_CONNECTION_FAILED",
	} {
		if !slices.Contains(c.Rendered.Warnings, want) {
			t.Errorf("warnings %q lack %q", c.Rendered.Warnings, want)
		}
	}
	if p := secret.paths(); len(p) != 0 {
		t.Errorf("the loopback server behind the guard was asked %v", p)
	}

	// The main document on a loopback address is refused too.
	c, err = b.Render(t.Context(), tg, secret.URL+"/page", wildwatch.PageListing)
	fe := fetchError(t, err)
	var ge *GuardError
	if c != nil || fe.Kind != wildwatch.ErrKindGuard || fe.Retryable || !errors.As(err, &ge) {
		t.Errorf("capture %v, error %v (%+v), want a guard error", c, err, fe)
	}
	if p := secret.paths(); len(p) != 0 {
		t.Errorf("the loopback server behind the guard was asked %v", p)
	}
}

func TestRenderRobots(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
		default:
			fmt.Fprint(w, "<h1>page</h1>")
		}
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) { t.Politeness.ObeyRobots = nil })
	c, err := b.Render(t.Context(), tg, srv.URL+"/private/item?id=1", wildwatch.PageListing)
	if fe := fetchError(t, err); c != nil || fe.Kind != wildwatch.ErrKindRobots || fe.Retryable || !errors.Is(err, ErrRobots) {
		t.Errorf("capture %v, error %v (%+v), want robots, not retryable", c, err, fe)
	}
	if _, err := b.Render(t.Context(), tg, srv.URL+"/public", wildwatch.PageListing); err != nil {
		t.Errorf("allowed page: %v", err)
	}
	if got, want := strings.Join(srv.paths(), " "), "/robots.txt /public"; got != want {
		t.Errorf("server was asked %q, want %q (robots.txt once, nothing private)", got, want)
	}
}

// byName is rawURL, on 127.0.0.1, with the host name localhost.
func byName(rawURL string) string {
	return strings.Replace(rawURL, "127.0.0.1", "localhost", 1)
}
