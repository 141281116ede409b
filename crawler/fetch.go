package crawler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/wildwatch/wildwatch"
)

// Config configures a Fetcher. The zero value is ready to use.
type Config struct {
	// Logger receives debug lines for fetches; nil discards them.
	Logger *slog.Logger
	// Transport, when set, replaces the built-in transports. It is meant for
	// tests: the connect-time address guard lives in the built-in dialer, so
	// with a custom Transport only literal IP addresses in URLs are guarded.
	Transport http.RoundTripper
	// Limiter spaces and bounds requests per host; nil means a HostLimiter
	// private to this Fetcher. Pass one Limiter to every Fetcher of a
	// process, or a shared one to bound several processes together.
	Limiter Limiter
	// RobotsTTL is how long a robots.txt file whose response has no
	// Cache-Control max-age or Expires is used (default DefaultRobotsTTL).
	// Whatever the response says, a file is used for RobotsMinTTL
	// (default DefaultRobotsMinTTL) at least and MaxRobotsTTL at most.
	RobotsTTL    time.Duration
	RobotsMinTTL time.Duration
	// Robots keeps robots.txt files; nil means a MemoryRobotsCache
	// private to this Fetcher. A RedisRobotsCache lets every worker fetch
	// a host's file once between them.
	Robots RobotsCache
	// Requests counts the requests of targets with a daily cap; nil means
	// a MemoryRequestCounter private to this Fetcher. A
	// RedisRequestCounter holds the caps across workers.
	Requests RequestCounter
	// MaxLimiterWait bounds how long a request waits for its turn at the
	// host's limiter (default DefaultMaxLimiterWait); a request still
	// waiting then fails unsent, wrapping ErrLimiterWait, to be tried
	// again later. The target's request timeout starts only once the
	// turn is held, so the wait never times a request out.
	MaxLimiterWait time.Duration
}

// Fetcher fetches pages for targets, one request per Fetch call, and is
// safe for concurrent use. Close it to drop idle connections.
type Fetcher struct {
	log     *slog.Logger
	limiter Limiter
	counter RequestCounter
	// maxWait bounds a request's wait for its turn at the limiter.
	maxWait time.Duration

	robotsCache      RobotsCache
	robotsDefaultTTL time.Duration
	robotsMinTTL     time.Duration
	// robots holds the parsed robots.txt of each origin seen, until it
	// expires: origin → *robotsRules.
	robots sync.Map

	// guarded dials public addresses only; open dials anything, for targets
	// that allow private addresses. They pool connections apart, so a
	// connection made for one kind is never reused by the other.
	guarded, open http.RoundTripper
	owned         []*http.Transport
	// policy is the guard's rule for resolved addresses.
	policy dialPolicy

	mu         sync.Mutex
	collectors map[string]*collectorEntry

	states sync.Map // fetch id → *fetchState
	nextID atomic.Uint64
}

// New returns a Fetcher.
func New(cfg Config) *Fetcher {
	f := &Fetcher{
		log:              cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		limiter:          cfg.Limiter,
		counter:          cfg.Requests,
		maxWait:          cmp.Or(max(cfg.MaxLimiterWait, 0), DefaultMaxLimiterWait),
		robotsCache:      cfg.Robots,
		robotsDefaultTTL: min(cmp.Or(max(cfg.RobotsTTL, 0), DefaultRobotsTTL), MaxRobotsTTL),
		robotsMinTTL:     cmp.Or(max(cfg.RobotsMinTTL, 0), DefaultRobotsMinTTL),
		policy:           publicOnly,
		collectors:       make(map[string]*collectorEntry),
	}
	if f.limiter == nil {
		f.limiter = &HostLimiter{}
	}
	if f.counter == nil {
		f.counter = &MemoryRequestCounter{}
	}
	if f.robotsCache == nil {
		f.robotsCache = &MemoryRobotsCache{}
	}
	if cfg.Transport != nil {
		f.guarded, f.open = cfg.Transport, cfg.Transport
		return f
	}
	guarded := newTransport(func(ap netip.AddrPort) error { return f.policy(ap) })
	open := newTransport(nil)
	f.guarded, f.open = guarded, open
	f.owned = []*http.Transport{guarded, open}
	return f
}

func newTransport(policy dialPolicy) *http.Transport {
	return &http.Transport{
		// No proxy: the guard checks the address actually connected to,
		// and libraries read no environment.
		Proxy:             nil,
		DialContext:       guardedDialer(policy).DialContext,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      256,
		// As many idle connections per host as requests a target may have
		// in flight to it, or each request past the idle limit costs a new
		// connection, to the site and to this process.
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Close drops idle connections. In-flight fetches finish normally.
func (f *Fetcher) Close() {
	for _, t := range f.owned {
		t.CloseIdleConnections()
	}
}

// Fetch fetches rawURL for target t with one GET request, following
// redirects within the target's allowed hosts. t's defaults are applied.
//
// robots.txt is obeyed for the URL and every redirect, the host's
// Crawl-delay spaces the requests, and each request counts against the
// target's daily cap.
//
// The target's Timeout bounds the time the requests spend on the network,
// redirects included: it runs only while a request holds its turn at the
// host's limiter. The wait for a turn is bounded apart, by the Fetcher's
// MaxLimiterWait and ctx.
//
// Errors are *FetchError. For a response with a status outside 2xx, and
// for a block page (ErrKindBlocked), the Capture is returned along with the
// error.
func (f *Fetcher) Fetch(ctx context.Context, t wildwatch.Target, rawURL string) (*wildwatch.Capture, error) {
	t = t.WithDefaults()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &FetchError{Kind: wildwatch.ErrKindHTTP, URL: rawURL, Err: errors.New("not an absolute http(s) URL")}
	}
	if !hostAllowed(t, u.Hostname()) {
		return nil, &FetchError{Kind: wildwatch.ErrKindGuard, URL: rawURL, Err: ErrHostNotAllowed}
	}

	if err := f.capSpent(ctx, t, rawURL); err != nil {
		return nil, err
	}

	entry := f.collector(t)
	c := entry.c.Clone()
	c.Context = ctx
	id := strconv.FormatUint(f.nextID.Add(1), 10)
	st := &fetchState{ctx: ctx}
	st.budget.left = time.Duration(t.Limits.Timeout)
	f.states.Store(id, st)
	defer f.states.Delete(id)
	c.Headers = &http.Header{fetchHeader: []string{id}}

	var resp *colly.Response
	c.OnResponse(func(r *colly.Response) { resp = r })

	started := time.Now().UTC()
	// robots.txt, the limiter and the daily cap are applied by the
	// transport to every request, redirects included.
	err = c.Visit(rawURL)
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		fe := classify(rawURL, err)
		f.log.DebugContext(ctx, "fetch failed", "target", t.Name, "url", rawURL, "kind", fe.Kind, "err", err)
		return nil, fe
	}
	if err != nil {
		f.log.DebugContext(ctx, "after response", "target", t.Name, "url", rawURL, "err", err)
	}

	capture, err := f.capture(t, rawURL, st, resp.StatusCode, started)
	if err != nil {
		return nil, classify(rawURL, err)
	}
	f.log.DebugContext(ctx, "fetched", "target", t.Name, "url", rawURL, "status", capture.Status,
		"bytes", len(capture.Body), "truncated", capture.Truncated)
	if reason := blockReason(entry.blocks, capture); reason != "" {
		return capture, f.blocked(ctx, rawURL, capture, reason)
	}
	if fe := statusError(rawURL, capture.Status, capture.Header, time.Now()); fe != nil {
		return capture, fe
	}
	return capture, nil
}

// capture builds the Capture from the final hop of a fetch.
func (f *Fetcher) capture(t wildwatch.Target, rawURL string, st *fetchState, status int, started time.Time) (*wildwatch.Capture, error) {
	h := st.final()
	if h == nil {
		return nil, fmt.Errorf("no request recorded for %s", rawURL)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	body := append([]byte(nil), h.body.Bytes()...)
	truncated := int64(len(body)) > t.Limits.MaxBodyBytes
	if truncated {
		body = body[:t.Limits.MaxBodyBytes]
	}
	fetched := h.doneAt
	if fetched.IsZero() {
		fetched = time.Now().UTC()
	}
	c := &wildwatch.Capture{
		Target:        t.Name,
		URL:           rawURL,
		FinalURL:      h.url.String(),
		RemoteIP:      h.remoteIP,
		StartedAt:     started,
		FetchedAt:     fetched,
		Status:        status,
		UserAgent:     t.UserAgent,
		RequestHeader: h.sent,
		Header:        h.header,
		Proto:         h.proto,
		Body:          body,
		Truncated:     truncated,
	}
	if isText(h.header.Get("Content-Type")) {
		c.Text, c.Charset = DecodeText(body, h.header.Get("Content-Type"))
	}
	return c, nil
}

// requestBudget is what is left of one Fetch's request timeout
// (Limits.Timeout, redirects included). It is spent only while a request
// holds its turn at the limiter: from the turn to the end of the body.
type requestBudget struct {
	mu   sync.Mutex
	left time.Duration
}

func (b *requestBudget) remaining() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

func (b *requestBudget) spend(d time.Duration) {
	b.mu.Lock()
	b.left -= d
	b.mu.Unlock()
}

// turn waits for a request's turn at host's limiter, bounded by the
// Fetcher's MaxLimiterWait and not by the request's timeout, and counts
// the request against the target's daily cap. Only then does the
// request's timeout start: what is left of its Fetch's budget (st), or the
// target's whole Timeout for a request of no Fetch (robots.txt). turn
// returns the request's context and the func that ends the request, once:
// it gives the turn back and charges the time it was held to the budget.
func (t *fetchTransport) turn(ctx context.Context, st *fetchState, host string, rule LimitRule) (context.Context, func(), error) {
	timeout := time.Duration(t.t.Limits.Timeout)
	var budget *requestBudget
	if st != nil {
		budget = &st.budget
		timeout = budget.remaining()
	}
	if timeout <= 0 {
		return nil, nil, fmt.Errorf("request to %s: the timeout of %s is spent: %w", host, time.Duration(t.t.Limits.Timeout), context.DeadlineExceeded)
	}
	release, err := t.f.acquire(ctx, host, rule)
	if err != nil {
		return nil, nil, err
	}
	if err := t.f.takeRequest(ctx, t.t); err != nil {
		release()
		return nil, nil, err
	}
	held := time.Now()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	var once sync.Once
	end := func() {
		once.Do(func() {
			cancel()
			release()
			if budget != nil {
				budget.spend(time.Since(held))
			}
		})
	}
	return rctx, end, nil
}
