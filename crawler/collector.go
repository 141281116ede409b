package crawler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/wildwatch/wildwatch"
)

// collectorEntry is the collector of one target, built for the settings
// whose key it holds, with its transport and block page rules.
type collectorEntry struct {
	key    string
	c      *colly.Collector
	tr     *fetchTransport
	blocks blockRules
	built  time.Time
}

// collectorTTL is how long a collector, and so its cookie jar, is kept.
const collectorTTL = time.Hour

// collector returns the cached collector for t (defaults applied), building
// a new one when t's fetch settings changed or the old one is older than
// collectorTTL. Each Fetch works on a Clone, which shares the cookie jar
// and HTTP client.
func (f *Fetcher) collector(t wildwatch.Target) *collectorEntry {
	key := settingsKey(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.collectors[t.Name]; ok && e.key == key && time.Since(e.built) < collectorTTL {
		return e
	}
	c, tr := f.newCollector(t)
	e := &collectorEntry{key: key, c: c, tr: tr, blocks: blockRulesFor(t), built: time.Now()}
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

func (f *Fetcher) newCollector(t wildwatch.Target) (*colly.Collector, *fetchTransport) {
	// Init, not NewCollector: NewCollector reads COLLY_* environment
	// variables.
	c := &colly.Collector{}
	c.Init()
	c.UserAgent = t.UserAgent
	// One byte over the limit tells a cut body from one that fits.
	c.MaxBodySize = int(min(t.Limits.MaxBodyBytes, math.MaxInt-1) + 1)
	c.AllowURLRevisit = true
	c.ParseHTTPErrorResponse = true
	// robots.txt is the transport's: one cache for every worker, checked
	// on redirects too.
	c.IgnoreRobotsTxt = true
	for _, h := range t.AllowedHosts {
		c.AllowedDomains = append(c.AllowedDomains, strings.ToLower(h))
	}
	// No client timeout: it would run while a request waits for its turn
	// at the limiter. The transport times each request from its turn on
	// (fetchTransport.turn).
	c.SetRequestTimeout(0)

	tr := &fetchTransport{
		f:      f,
		t:      t,
		next:   f.guarded,
		rule:   limitRule(t),
		policy: f.policy,
		record: min(t.Limits.MaxBodyBytes, math.MaxInt64-1) + 1,
	}
	if t.Politeness.AllowPrivate {
		tr.next, tr.policy = f.open, nil
	}
	c.WithTransport(tr)
	c.SetRedirectHandler(redirectPolicy(t))
	return c, tr
}

// limitRule is the politeness t asks for each of its hosts, before any
// Crawl-delay.
func limitRule(t wildwatch.Target) LimitRule {
	return LimitRule{
		RequestsPerSecond: t.Politeness.RequestsPerSecond,
		Concurrency:       t.Politeness.Concurrency,
	}
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
