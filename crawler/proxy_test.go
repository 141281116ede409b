package crawler

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestGuardProxy drives the proxy the browser uses with a Go client: http
// forwarded and https tunnelled when the guard allows the address, and
// nothing reaching the server when it does not.
func TestGuardProxy(t *testing.T) {
	t.Parallel()
	plain := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-For") != "" {
			t.Errorf("forwarded request carries X-Forwarded-For %q", r.Header.Get("X-Forwarded-For"))
		}
		fmt.Fprint(w, "plain "+r.URL.Path)
	}))
	var tlsAsked atomic.Int32
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tlsAsked.Add(1)
		fmt.Fprint(w, "secure "+r.URL.Path)
	}))
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the dropped tunnel's handshake
	secure.StartTLS()
	t.Cleanup(secure.Close)
	plainAddr := netip.MustParseAddrPort(strings.TrimPrefix(plain.URL, "http://"))
	secureAddr := netip.MustParseAddrPort(strings.TrimPrefix(secure.URL, "https://"))

	var allow atomic.Bool
	policy := func(ap netip.AddrPort) error {
		if allow.Load() && (ap == plainAddr || ap == secureAddr) {
			return nil
		}
		return publicOnly(ap)
	}
	tr := newTransport(policy)
	t.Cleanup(tr.CloseIdleConnections)
	p, err := newGuardProxy(testLogger(t), "127.0.0.1", tr, guardedDialer(policy))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	proxyURL, _ := url.Parse(p.URL())
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:           http.ProxyURL(proxyURL),
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
	}
	t.Cleanup(client.CloseIdleConnections)
	get := func(u string) (string, error) {
		resp, err := client.Get(u)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b), err
	}

	// Refused: loopback is not public.
	start := time.Now()
	if got, err := get(plain.URL + "/refused"); err == nil {
		t.Errorf("http through the guard: %q, want the connection dropped", got)
	}
	if _, err := get(secure.URL + "/refused"); err == nil {
		t.Error("https through the guard: no error, want the tunnel refused")
	}
	if p := plain.paths(); len(p) != 0 {
		t.Errorf("the guarded http server was asked %v", p)
	}
	if n := tlsAsked.Load(); n != 0 {
		t.Errorf("the guarded https server was asked %d times", n)
	}
	var ge *GuardError
	if err := p.refusal(plainAddr.String(), start); !errors.As(err, &ge) {
		t.Errorf("refusal of %s = %v, want a guard error", plainAddr, err)
	}
	if err := p.refusal(secureAddr.String(), start); !errors.As(err, &ge) {
		t.Errorf("refusal of %s = %v, want a guard error", secureAddr, err)
	}
	if err := p.refusal(plainAddr.String(), time.Now().Add(time.Second)); err != nil {
		t.Errorf("refusal older than asked for: %v", err)
	}

	// Allowed: stand-ins for public addresses.
	allow.Store(true)
	client.CloseIdleConnections()
	if got, err := get(plain.URL + "/ok"); err != nil || got != "200 plain /ok" {
		t.Errorf("http forwarded: %q, %v", got, err)
	}
	if got, err := get(secure.URL + "/ok"); err != nil || got != "200 secure /ok" {
		t.Errorf("https tunnelled: %q, %v", got, err)
	}
	for _, hp := range []string{plainAddr.String(), secureAddr.String()} {
		if ip := p.remoteIP(hp); ip != "127.0.0.1" {
			t.Errorf("remote IP of %s = %q", hp, ip)
		}
	}
	// Not a proxy request.
	resp, err := http.Get(p.URL() + "/direct")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a direct request got %d, want 400", resp.StatusCode)
	}

	// Dropping the browser's connections ends an open tunnel.
	conn, err := net.Dial("tcp", proxyURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %[1]s\r\n\r\n", secureAddr)
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v, %v", resp, err)
	}
	p.dropConns()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := br.ReadByte(); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("reading the tunnel after dropConns: %v, want it closed", err)
	}
}
