package crawler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/wildwatch/wildwatch"
)

// collectorEntry is the collector of one target, built for the settings
// whose key it holds. Its robots.txt answers live as long as it does.
type collectorEntry struct {
	key    string
	c      *colly.Collector
	built  time.Time
	robots robotsGate
}

// robotsGate lets one Fetch per host at a time through until the
// collector has that host's robots.txt, so that concurrent first fetches
// ask for robots.txt once rather than once each: colly checks its cache
// without holding a lock across the request.
type robotsGate struct {
	mu    sync.Mutex
	hosts map[string]*hostGate
}

type hostGate struct {
	lock  chan struct{} // holds one token while a Fetch is let through
	known atomic.Bool   // robots.txt is in the collector's cache
}

// enter waits until the caller may fetch from host. The caller reports
// through leave whether robots.txt is now cached.
func (g *robotsGate) enter(ctx context.Context, host string) (leave func(known bool), err error) {
	g.mu.Lock()
	if g.hosts == nil {
		g.hosts = make(map[string]*hostGate)
	}
	h, ok := g.hosts[host]
	if !ok {
		h = &hostGate{lock: make(chan struct{}, 1)}
		g.hosts[host] = h
	}
	g.mu.Unlock()
	nothing := func(bool) {}
	if h.known.Load() {
		return nothing, nil
	}
	select {
	case h.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if h.known.Load() {
		<-h.lock
		return nothing, nil
	}
	return func(known bool) {
		if known {
			h.known.Store(true)
		}
		<-h.lock
	}, nil
}

// collector returns the cached collector for t (defaults applied), building
// a new one when t's fetch settings changed or the old one's robots.txt
// answers are too old. Each Fetch works on a Clone, which shares the
// robots.txt cache, cookie jar and HTTP client.
func (f *Fetcher) collector(t wildwatch.Target) *collectorEntry {
	key := settingsKey(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.collectors[t.Name]; ok && e.key == key && time.Since(e.built) < f.robotsTTL {
		return e
	}
	e := &collectorEntry{key: key, c: f.newCollector(t), built: time.Now()}
	f.collectors[t.Name] = e
	return e
}

// settingsKey hashes the parts of t that shape its collector.
func settingsKey(t wildwatch.Target) string {
	b, _ := json.Marshal(struct {
		Hosts      []string
		UserAgent  string
		Limits     wildwatch.Limits
		Politeness wildwatch.Politeness
	}{t.AllowedHosts, t.UserAgent, t.Limits, t.Politeness})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (f *Fetcher) newCollector(t wildwatch.Target) *colly.Collector {
	// Init, not NewCollector: NewCollector reads COLLY_* environment
	// variables.
	c := &colly.Collector{}
	c.Init()
	c.UserAgent = t.UserAgent
	// One byte over the limit tells a cut body from one that fits.
	c.MaxBodySize = int(min(t.Limits.MaxBodyBytes, math.MaxInt-1) + 1)
	c.AllowURLRevisit = true
	c.ParseHTTPErrorResponse = true
	c.IgnoreRobotsTxt = !t.ObeysRobots()
	for _, h := range t.AllowedHosts {
		c.AllowedDomains = append(c.AllowedDomains, strings.ToLower(h))
	}
	c.SetRequestTimeout(time.Duration(t.Limits.Timeout))

	tr := &fetchTransport{
		next:    f.guarded,
		limiter: f.limiter,
		rule: LimitRule{
			RequestsPerSecond: t.Politeness.RequestsPerSecond,
			Concurrency:       t.Politeness.Concurrency,
		},
		policy: f.policy,
		record: min(t.Limits.MaxBodyBytes, math.MaxInt64-1) + 1,
		states: &f.states,
	}
	if t.Politeness.AllowPrivate {
		tr.next, tr.policy = f.open, nil
	}
	c.WithTransport(tr)
	c.SetRedirectHandler(redirectPolicy(t))
	return c
}

// redirectPolicy follows at most t.Limits.MaxRedirects redirects, to http(s)
// URLs on t's allowed hosts only.
func redirectPolicy(t wildwatch.Target) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > t.Limits.MaxRedirects {
			return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, t.Limits.MaxRedirects)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s: %w", req.URL.Scheme, ErrHostNotAllowed)
		}
		if !hostAllowed(t, req.URL.Hostname()) {
			return fmt.Errorf("redirect to %s: %w", req.URL.Host, ErrHostNotAllowed)
		}
		return nil
	}
}

// hostAllowed reports whether host is one of t's allowed hosts.
func hostAllowed(t wildwatch.Target, host string) bool {
	for _, h := range t.AllowedHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}
