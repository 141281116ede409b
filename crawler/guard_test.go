package crawler

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	refused := []string{
		"127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "fc00::1", "fd12:3456::1", "169.254.169.254", "fe80::1",
		"0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "ff02::1", "100.64.0.1",
		"100.127.255.254", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1",
		"64:ff9b::a00:1", "255.255.255.255", "198.18.0.1", "240.0.0.1", "192.0.0.8",
	}
	allowed := []string{
		"8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.32.0.1",
		"2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:1.1.1.1",
	}
	for _, s := range refused {
		if reason := checkAddr(netip.MustParseAddr(s)); reason == "" {
			t.Errorf("checkAddr(%s) allowed it", s)
		}
	}
	for _, s := range allowed {
		if reason := checkAddr(netip.MustParseAddr(s)); reason != "" {
			t.Errorf("checkAddr(%s) = %q, want it allowed", s, reason)
		}
	}
}

// TestAddressGuard proves that without allow_private_addresses nothing
// reaches a loopback server: not by IP, not by a name that resolves to it,
// not through a redirect, and not the robots.txt request either.
func TestAddressGuard(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<h1>secret</h1>")
	}))
	port := strings.TrimPrefix(srv.URL, "http://127.0.0.1:")
	guarded := func(hosts ...string) wildwatch.Target {
		return wildwatch.Target{
			Name:         "guarded",
			AllowedHosts: hosts,
			Politeness:   wildwatch.Politeness{RequestsPerSecond: -1, Concurrency: 4},
		}
	}
	tests := []struct {
		name   string
		target wildwatch.Target
		url    string
	}{
		{"loopback IP, robots.txt obeyed", guarded("127.0.0.1"), srv.URL + "/x"},
		{"loopback IP, robots.txt off", func() wildwatch.Target {
			tg := guarded("127.0.0.1")
			no := false
			tg.Politeness.ObeyRobots = &no
			return tg
		}(), srv.URL + "/x"},
		{"name resolving to loopback", guarded("localhost"), "http://localhost:" + port + "/x"},
	}
	f := newFetcher(t, Config{})
	for _, tt := range tests {
		c, err := f.Fetch(t.Context(), tt.target, tt.url)
		fe := fetchError(t, err)
		var ge *GuardError
		if c != nil || fe.Kind != wildwatch.ErrKindGuard || fe.Retryable || !errors.As(err, &ge) {
			t.Errorf("%s: capture %v, error %v (%+v); want a guard error", tt.name, c, err, fe)
		}
	}
	// The dialer itself refuses, whatever checks run before it.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/dial", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ge *GuardError
	if resp, err := f.guarded.RoundTrip(req); !errors.As(err, &ge) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Errorf("guarded transport: error %v, want a guard error from the dialer", err)
	}
	if p := srv.paths(); len(p) != 0 {
		t.Errorf("the guarded server was asked %v", p)
	}

	// The same target allowed private addresses goes through.
	open := guarded("127.0.0.1")
	open.Politeness.AllowPrivate = true
	if _, err := f.Fetch(t.Context(), open, srv.URL+"/x"); err != nil {
		t.Errorf("with private addresses allowed: %v", err)
	}
}

// TestAddressGuardRedirect lets the dialer reach one "public" server, which
// redirects to a loopback one: the redirect must be refused when dialling.
func TestAddressGuardRedirect(t *testing.T) {
	t.Parallel()
	inner := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<h1>secret</h1>")
	}))
	outer := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.NotFound(w, r)
		case "/by-name":
			http.Redirect(w, r, "http://localhost:"+inner.URL[len("http://127.0.0.1:"):]+"/secret", http.StatusFound)
		default:
			http.Redirect(w, r, inner.URL+"/secret", http.StatusFound)
		}
	}))
	u, _ := url.Parse(outer.URL)
	public := netip.MustParseAddrPort(u.Host)

	f := newFetcher(t, Config{})
	// Stand-in for a public address: only outer's exact ip:port passes.
	f.policy = func(ap netip.AddrPort) error {
		if ap == public {
			return nil
		}
		return publicOnly(ap)
	}
	tg := wildwatch.Target{
		Name:         "redirected",
		AllowedHosts: []string{"127.0.0.1", "localhost"},
		Politeness:   wildwatch.Politeness{RequestsPerSecond: -1, Concurrency: 4},
	}
	for _, path := range []string{"/by-ip", "/by-name"} {
		_, err := f.Fetch(t.Context(), tg, outer.URL+path)
		var ge *GuardError
		if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindGuard || !errors.As(err, &ge) {
			t.Errorf("%s: error %v (%+v), want a guard error", path, err, fe)
		}
	}
	if got := strings.Join(outer.paths(), " "); got != "/robots.txt /by-ip /by-name" {
		t.Errorf("outer server was asked %q", got)
	}
	if p := inner.paths(); len(p) != 0 {
		t.Errorf("the loopback server behind the redirect was asked %v", p)
	}
}
