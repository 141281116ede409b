package crawler

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wildwatch/wildwatch"
)

// fetchHeader ties a request colly sends to the Fetch call that asked for
// it, redirects included. fetchTransport removes it before the request is
// sent.
const fetchHeader = "X-Wildwatch-Fetch"

// fetchState is what one Fetch call shares with the transport: its context
// and a record of each request sent on its behalf.
type fetchState struct {
	ctx context.Context
	// budget is what is left of the Fetch's request timeout.
	budget requestBudget

	mu   sync.Mutex
	last *hop
}

func (s *fetchState) setLast(h *hop) {
	s.mu.Lock()
	s.last = h
	s.mu.Unlock()
}

func (s *fetchState) final() *hop {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// hop is one request and its response: a redirect step or the final
// response.
type hop struct {
	url *url.URL

	mu       sync.Mutex
	sent     http.Header
	remoteIP string
	status   int
	proto    string
	header   http.Header
	body     bytes.Buffer
	doneAt   time.Time
}

func (h *hop) wroteHeader(key string, values []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sent == nil {
		h.sent = make(http.Header)
	}
	h.sent[http.CanonicalHeaderKey(key)] = append(h.sent[http.CanonicalHeaderKey(key)], values...)
}

func (h *hop) gotConn(info httptrace.GotConnInfo) {
	if info.Conn == nil {
		return
	}
	ip := hostIP(info.Conn.RemoteAddr().String())
	h.mu.Lock()
	h.remoteIP = ip
	h.mu.Unlock()
}

// hostIP returns the IP of an "ip:port" address.
func hostIP(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().WithZone("").String()
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// fetchTransport sits between colly's http.Client and the network, for one
// target. For every request, redirects and robots.txt included, it finds
// the Fetch call the request belongs to, checks literal addresses against
// the guard, checks the URL against robots.txt (fetching that once per
// host through itself), waits for the host's politeness limiter, spaced by
// the host's Crawl-delay, counts the request against the target's daily
// cap, records the header sent, the address connected to and the response
// bytes read, and releases the limiter when the body is closed.
type fetchTransport struct {
	f    *Fetcher
	t    wildwatch.Target // defaults applied
	next http.RoundTripper
	rule LimitRule
	// policy, when not nil, refuses literal IP addresses in URLs before
	// anything is dialled; the dialer checks resolved addresses.
	policy dialPolicy
	// record bounds the response bytes kept per hop.
	record int64
}

func (t *fetchTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var st *fetchState
	if id := req.Header.Get(fetchHeader); id != "" {
		if v, ok := t.f.states.Load(id); ok {
			st = v.(*fetchState)
		}
	}
	// done ends the request's merged context once its body is closed.
	done := func() {}
	if st != nil {
		merged, cancel := context.WithCancelCause(ctx)
		stop := context.AfterFunc(st.ctx, func() { cancel(context.Cause(st.ctx)) })
		ctx = merged
		done = func() {
			stop()
			cancel(nil)
		}
	}
	if err := t.checkLiteral(req.URL); err != nil {
		done()
		return nil, err
	}
	robots := isRobotsRequest(req)
	rule := t.rule
	if !robots {
		rules, err := t.f.checkRobots(ctx, t, req.URL)
		if err != nil {
			done()
			return nil, err
		}
		rule = rules.limit(t.t.UserAgent, rule)
	}
	host := strings.ToLower(req.URL.Host)
	ctx, release, err := t.turn(ctx, st, host, rule)
	if err != nil {
		done()
		return nil, err
	}
	finish := func() {
		release()
		done()
	}

	h := &hop{url: req.URL}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:          h.gotConn,
		WroteHeaderField: h.wroteHeader,
	})
	out := req.Clone(ctx)
	out.Header.Del(fetchHeader)
	addConditional(req, out)
	if st != nil {
		st.setLast(h)
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		finish()
		return nil, err
	}
	h.mu.Lock()
	if h.sent == nil {
		// The transport did not report the header it wrote (HTTP/1 and
		// HTTP/2 in net/http do); keep the header it was given.
		h.sent = out.Header.Clone()
	}
	h.status, h.proto, h.header = resp.StatusCode, resp.Proto, resp.Header
	h.mu.Unlock()
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		t.backoff(ctx, host, resp.Header.Get("Retry-After"))
	}
	limit := t.record
	if robots {
		limit = 0 // read by fetchRobots, kept by nobody
	}
	resp.Body = &recordingBody{rc: resp.Body, hop: h, limit: limit, finish: finish}
	return resp, nil
}

// backoff holds the host back, in every process sharing the limiter, for
// as long as its Retry-After asks (at most MaxBackoff), or DefaultBackoff.
func (t *fetchTransport) backoff(ctx context.Context, host, header string) {
	b, ok := t.f.limiter.(Backoffer)
	if !ok {
		return
	}
	d := min(retryAfter(header, time.Now()), MaxBackoff)
	if d <= 0 {
		d = DefaultBackoff
	}
	// A failed backoff leaves the request's own retry delay to space it.
	_ = b.Backoff(context.WithoutCancel(ctx), host, d)
}

func (t *fetchTransport) checkLiteral(u *url.URL) error {
	if t.policy == nil {
		return nil
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil
	}
	port := uint16(80)
	if u.Scheme == "https" {
		port = 443
	}
	if p, err := strconv.ParseUint(u.Port(), 10, 16); err == nil {
		port = uint16(p)
	}
	return t.policy(netip.AddrPortFrom(ip, port))
}

// recordingBody keeps up to limit bytes of what is read through it and
// runs finish once, when it is closed.
type recordingBody struct {
	rc     io.ReadCloser
	hop    *hop
	limit  int64
	once   sync.Once
	finish func()
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.hop.mu.Lock()
	if keep := b.limit - int64(b.hop.body.Len()); keep > 0 {
		b.hop.body.Write(p[:min(int64(n), keep)])
	}
	if err != nil {
		b.hop.doneAt = time.Now().UTC()
	}
	b.hop.mu.Unlock()
	return n, err
}

func (b *recordingBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() {
		b.hop.mu.Lock()
		if b.hop.doneAt.IsZero() {
			b.hop.doneAt = time.Now().UTC()
		}
		b.hop.mu.Unlock()
		b.finish()
	})
	return err
}
