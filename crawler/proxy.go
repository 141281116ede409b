package crawler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// guardProxy is the HTTP proxy every connection of the browser goes
// through, so that the address guard holds for rendered pages the way it
// holds for static fetches: on the address actually connected to, at
// connect time, after name resolution. https goes through CONNECT tunnels
// dialled with the guarded dialer; http requests are forwarded with the
// Fetcher's transport of the same kind.
//
// A proxy that cannot reach an address does not answer with an error page
// of its own for plain http (the browser would show it as the site's
// response): it drops the connection, and the browser reports a network
// error. It remembers the refusal so that a failed main document can be
// reported as a guard error.
type guardProxy struct {
	log     *slog.Logger
	ln      net.Listener
	srv     *http.Server
	forward *httputil.ReverseProxy
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{} // from the browser, not hijacked
	tunnels map[net.Conn]struct{}
	ips     map[string]string  // host:port → IP last connected to
	refused map[string]refusal // host:port → last refusal of the guard
	wg      sync.WaitGroup     // tunnels being copied
	served  chan struct{}      // closed when Serve returns
}

type refusal struct {
	at  time.Time
	err error
}

// newGuardProxy listens on host (an IP address, port chosen by the system)
// and serves until Close. rt forwards http requests; dialer opens tunnels.
func newGuardProxy(log *slog.Logger, host string, rt http.RoundTripper, dialer *net.Dialer) (*guardProxy, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("proxy listening on %s: %w", host, err)
	}
	p := &guardProxy{
		log:     log,
		ln:      ln,
		dial:    dialer.DialContext,
		conns:   make(map[net.Conn]struct{}),
		tunnels: make(map[net.Conn]struct{}),
		ips:     make(map[string]string),
		refused: make(map[string]refusal),
		served:  make(chan struct{}),
	}
	p.forward = &httputil.ReverseProxy{
		// The request is already absolute; Rewrite leaves it as it is and
		// adds no X-Forwarded headers.
		Rewrite:       func(*httputil.ProxyRequest) {},
		Transport:     &tracingTransport{next: rt, p: p},
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ErrorHandler:  p.forwardFailed,
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnState:         p.connState,
	}
	go func() {
		defer close(p.served)
		p.srv.Serve(ln)
	}()
	return p, nil
}

// URL is the proxy's address as a browser is given it.
func (p *guardProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *guardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.tunnel(w, r)
	case r.URL.IsAbs() && r.URL.Scheme == "http":
		// Browsers tunnel ws:// and https:// through CONNECT; only
		// plain http comes as an absolute URL.
		p.forward.ServeHTTP(w, r)
	default:
		http.Error(w, "wildwatch proxy: absolute http URL or CONNECT expected", http.StatusBadRequest)
	}
}

// tunnel dials r.Host with the guarded dialer and copies bytes both ways
// until either side closes.
func (p *guardProxy) tunnel(w http.ResponseWriter, r *http.Request) {
	hostport := hostPort(r.Host, "443")
	up, err := p.dial(r.Context(), "tcp", hostport)
	if err != nil {
		p.noteRefusal(hostport, err)
		p.log.DebugContext(r.Context(), "proxy tunnel refused", "host", hostport, "err", err)
		http.Error(w, "wildwatch proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	p.noteIP(hostport, up.RemoteAddr().String())
	down, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		http.Error(w, "wildwatch proxy: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if !p.track(up, down) {
		return
	}
	defer p.untrack(up, down)
	if _, err := io.WriteString(down, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent after the CONNECT line and already buffered.
	if n := rw.Reader.Buffered(); n > 0 {
		buf, _ := rw.Reader.Peek(n)
		if _, err := up.Write(buf); err != nil {
			return
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(down, up)
		down.Close()
	}()
	io.Copy(up, down)
	up.Close()
	<-done
}

// track registers a tunnel's connections so that Close can end them; it
// closes them and reports false when the proxy is closed already.
func (p *guardProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.tunnels[c] = struct{}{}
	}
	p.wg.Add(1)
	return true
}

func (p *guardProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	for _, c := range conns {
		c.Close()
		delete(p.tunnels, c)
	}
	p.mu.Unlock()
	p.wg.Done()
}

// forwardFailed ends a forwarded request that could not be sent by
// dropping the browser's connection.
func (p *guardProxy) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	hostport := hostPort(r.URL.Host, "80")
	p.noteRefusal(hostport, err)
	p.log.DebugContext(r.Context(), "proxy request failed", "url", r.URL.String(), "err", err)
	conn, _, herr := http.NewResponseController(w).Hijack()
	if herr != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	conn.Close()
}

func (p *guardProxy) noteIP(hostport, remote string) {
	p.mu.Lock()
	p.ips[strings.ToLower(hostport)] = hostIP(remote)
	p.mu.Unlock()
}

// noteRefusal remembers err when it is the guard's.
func (p *guardProxy) noteRefusal(hostport string, err error) {
	var ge *GuardError
	if !errors.As(err, &ge) {
		return
	}
	p.mu.Lock()
	p.refused[strings.ToLower(hostport)] = refusal{at: time.Now(), err: ge}
	p.mu.Unlock()
}

// remoteIP returns the IP address last connected to for host:port.
func (p *guardProxy) remoteIP(hostport string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ips[strings.ToLower(hostport)]
}

// refusal returns the guard's refusal of host:port since the given time,
// or nil.
func (p *guardProxy) refusal(hostport string, since time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.refused[strings.ToLower(hostport)]
	if !ok || r.at.Before(since) {
		return nil
	}
	return r.err
}

func (p *guardProxy) connState(c net.Conn, state http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch state {
	case http.StateNew:
		p.conns[c] = struct{}{}
	case http.StateHijacked, http.StateClosed:
		delete(p.conns, c)
	}
}

// dropConns closes every connection from the browser, which ends the
// requests and tunnels still open on them: a browser does not always
// cancel a page's pending requests when it leaves the page.
func (p *guardProxy) dropConns() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	for c := range p.tunnels {
		c.Close()
	}
}

// Close stops listening and ends every tunnel and forwarded request.
func (p *guardProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.tunnels {
		c.Close()
	}
	p.mu.Unlock()
	err := p.srv.Close()
	<-p.served
	p.wg.Wait()
	return err
}

// tracingTransport records the address each forwarded request connected to.
type tracingTransport struct {
	next http.RoundTripper
	p    *guardProxy
}

func (t *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	hostport := hostPort(req.URL.Host, "80")
	ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if info.Conn != nil {
				t.p.noteIP(hostport, info.Conn.RemoteAddr().String())
			}
		},
	})
	return t.next.RoundTrip(req.WithContext(ctx))
}

// hostPort adds the default port to a host without one.
func hostPort(host, defaultPort string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), defaultPort)
}
