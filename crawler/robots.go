package crawler

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/temoto/robotstxt"

	"github.com/wildwatch/wildwatch"
)

// Bounds of robots.txt handling.
const (
	// MaxRobotsTTL bounds how long a robots.txt file is used, whatever its
	// response's Cache-Control or Expires say.
	MaxRobotsTTL = 24 * time.Hour
	// DefaultRobotsTTL is how long a robots.txt file is used when its
	// response says nothing.
	DefaultRobotsTTL = time.Hour
	// DefaultRobotsMinTTL is the least time a robots.txt file is used,
	// however short its response asks: a max-age of 0 must not cost a
	// robots.txt request per page.
	DefaultRobotsMinTTL = time.Minute
	// MaxCrawlDelay bounds the Crawl-delay honoured: a longer one spaces
	// requests by this much.
	MaxCrawlDelay = time.Minute
	// maxRobotsBytes bounds the robots.txt read; the rest is ignored.
	maxRobotsBytes = 512 << 10
	// maxRobotsRedirects bounds the redirects followed for robots.txt; a
	// longer chain counts as no file.
	maxRobotsRedirects = 5
)

// RobotsFile is a host's robots.txt as it was fetched.
type RobotsFile struct {
	// Status is the response's status: 2xx for a file in Body; a 3xx (a
	// redirect not followed) or 4xx for no file, which allows everything.
	Status    int       `json:"status"`
	Body      []byte    `json:"body,omitempty"`
	FetchedAt time.Time `json:"fetched_at"`
	// Expires is when the file must be fetched again.
	Expires time.Time `json:"-"`
}

// RobotsCache keeps the robots.txt files of hosts for the Fetchers that
// share it, so that a host's file is fetched once until it expires:
// MemoryRobotsCache within a process, RedisRobotsCache across processes.
type RobotsCache interface {
	// Load returns the file cached for origin ("https://shop.example") if
	// it has not expired; else it calls fetch, keeps what fetch returns
	// until its Expires, and returns it. Concurrent Loads of one origin
	// call fetch once between them and the others wait for the file. When
	// fetch fails, nothing is kept and the error is returned; a Load that
	// was waiting calls fetch itself.
	Load(ctx context.Context, origin string, fetch func(context.Context) (*RobotsFile, error)) (*RobotsFile, error)
}

// MemoryRobotsCache is the RobotsCache of one process. The zero value is
// ready to use.
type MemoryRobotsCache struct {
	mu    sync.Mutex
	files map[string]*memoryRobots
}

var _ RobotsCache = (*MemoryRobotsCache)(nil)

type memoryRobots struct {
	file    *RobotsFile
	loading chan struct{} // closed when the fetch in progress ends
}

// Load implements RobotsCache.
func (c *MemoryRobotsCache) Load(ctx context.Context, origin string, fetch func(context.Context) (*RobotsFile, error)) (*RobotsFile, error) {
	c.mu.Lock()
	if c.files == nil {
		c.files = make(map[string]*memoryRobots)
	}
	e, ok := c.files[origin]
	if !ok {
		e = &memoryRobots{}
		c.files[origin] = e
	}
	for {
		if e.file != nil && time.Now().Before(e.file.Expires) {
			c.mu.Unlock()
			return e.file, nil
		}
		if e.loading == nil {
			break
		}
		loading := e.loading
		c.mu.Unlock()
		select {
		case <-loading:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		c.mu.Lock()
	}
	loading := make(chan struct{})
	e.loading = loading
	c.mu.Unlock()

	file, err := fetch(ctx)
	c.mu.Lock()
	if err == nil {
		e.file = file
	}
	e.loading = nil
	close(loading)
	c.mu.Unlock()
	return file, err
}

// robotsRules are a robots.txt file made ready for checking URLs.
type robotsRules struct {
	data    *robotstxt.RobotsData // nil allows everything
	expires time.Time
}

// parseRobots reads a fetched file. A 2xx file that does not parse is
// read again without the lines at fault; if it still does not parse,
// nothing is allowed.
func parseRobots(f *RobotsFile) *robotsRules {
	r := &robotsRules{expires: f.Expires}
	if f.Status < 200 || f.Status > 299 {
		return r
	}
	data, err := robotstxt.FromBytes(f.Body)
	if err != nil {
		data, err = robotstxt.FromBytes(lenientRobots(f.Body))
	}
	if err != nil {
		data, _ = robotstxt.FromStatusAndBytes(http.StatusServiceUnavailable, nil)
	}
	r.data = data
	return r
}

// lenientRobots drops the lines that make the robots.txt parser give up:
// rules before the first User-agent line and Crawl-delay values that are
// not numbers of seconds.
func lenientRobots(body []byte) []byte {
	var out bytes.Buffer
	agent := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), maxRobotsBytes)
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(line, ":")
		val, _, _ = strings.Cut(val, "#")
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "user-agent":
			agent = true
		case "allow", "disallow":
			if !agent {
				continue
			}
		case "crawl-delay", "crawldelay":
			if d, err := strconv.ParseFloat(strings.TrimSpace(val), 64); !agent || err != nil || d < 0 || d > 1e9 {
				continue
			}
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// group returns the rules for the User-Agent ua: its own group, or *.
func (r *robotsRules) group(ua string) *robotstxt.Group {
	if r.data == nil {
		return nil
	}
	return r.data.FindGroup(ua)
}

// allows reports whether ua may fetch u.
func (r *robotsRules) allows(ua string, u *url.URL) bool {
	if r.data == nil {
		return true
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return r.data.TestAgent(p, ua)
}

// crawlDelay is the Crawl-delay of ua's group, at most MaxCrawlDelay.
func (r *robotsRules) crawlDelay(ua string) time.Duration {
	g := r.group(ua)
	if g == nil {
		return 0
	}
	return min(g.CrawlDelay, MaxCrawlDelay)
}

// limit spaces rule's requests by ua's Crawl-delay at least.
func (r *robotsRules) limit(ua string, rule LimitRule) LimitRule {
	if r == nil {
		return rule
	}
	if d := r.crawlDelay(ua); d > 0 && rule.interval() < d {
		rule.RequestsPerSecond = float64(time.Second) / float64(d)
	}
	return rule
}

// origin is the scheme and host (with a port other than the scheme's) of
// u, in lower case: what a robots.txt file covers.
func origin(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "http" && p == "80") || (scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme + "://" + host
}

// robotsFor returns the robots.txt rules of u's origin for target t,
// fetching robots.txt through tr, t's transport, when they are not known
// or have expired. Errors are those of the fetch.
func (f *Fetcher) robotsFor(ctx context.Context, tr *fetchTransport, u *url.URL) (*robotsRules, error) {
	o := origin(u)
	if r := f.knownRobots(o); r != nil {
		return r, nil
	}
	// The fetch waits for its turn at the limiter, then for its request
	// timeout, at most; a shared cache's lock lasts as long.
	ctx, cancel := context.WithTimeout(ctx, f.maxWait+time.Duration(tr.t.Limits.Timeout))
	defer cancel()
	file, err := f.robotsCache.Load(ctx, o, func(ctx context.Context) (*RobotsFile, error) {
		return tr.fetchRobots(ctx, o)
	})
	if err != nil {
		return nil, err
	}
	r := parseRobots(file)
	f.robots.Store(o, r)
	return r, nil
}

// knownRobots returns the rules of an origin already loaded by this
// Fetcher and not expired, or nil.
func (f *Fetcher) knownRobots(origin string) *robotsRules {
	if v, ok := f.robots.Load(origin); ok {
		if r := v.(*robotsRules); time.Now().Before(r.expires) {
			return r
		}
	}
	return nil
}

// checkRobots checks u against robots.txt for target t (defaults applied)
// and returns the rules of u's origin; a disallowed URL is an error
// wrapping ErrRobots. Targets that ignore robots.txt get nil rules.
func (f *Fetcher) checkRobots(ctx context.Context, tr *fetchTransport, u *url.URL) (*robotsRules, error) {
	if !tr.t.ObeysRobots() {
		return nil, nil
	}
	r, err := f.robotsFor(ctx, tr, u)
	if err != nil {
		return nil, fmt.Errorf("robots.txt of %s: %w", u.Host, err)
	}
	if !r.allows(tr.t.UserAgent, u) {
		return r, fmt.Errorf("%s: %w", u.Redacted(), ErrRobots)
	}
	return r, nil
}

// robotsRequestKey marks the context of a robots.txt request.
type robotsRequestKey struct{}

func isRobotsRequest(req *http.Request) bool {
	return req.Context().Value(robotsRequestKey{}) != nil
}

// errRobotsRedirect stops a robots.txt redirect that is not followed.
var errRobotsRedirect = errors.New("robots.txt redirect not followed")

// fetchRobots asks origin for its robots.txt through the transport, so
// that the request is guarded, limited and counted like any other. 4xx and
// redirects that lead too far or off the target's hosts mean no file;
// 429, 5xx and network errors are errors, and nothing is kept.
func (t *fetchTransport) fetchRobots(ctx context.Context, origin string) (*RobotsFile, error) {
	ctx = context.WithValue(ctx, robotsRequestKey{}, true)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin+"/robots.txt", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", t.t.UserAgent)
	client := &http.Client{
		Transport: t,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRobotsRedirects || (req.URL.Scheme != "http" && req.URL.Scheme != "https") ||
				!hostAllowed(t.t, req.URL.Hostname()) {
				return errRobotsRedirect
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	now := time.Now().UTC()
	if errors.Is(err, errRobotsRedirect) && resp != nil {
		return &RobotsFile{Status: resp.StatusCode, FetchedAt: now, Expires: now.Add(t.f.robotsTTL(resp.Header, now))}, nil
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	file := &RobotsFile{Status: resp.StatusCode, FetchedAt: now}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		if file.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxRobotsBytes)); err != nil {
			return nil, err
		}
	case s >= 400 && s < 500 && s != http.StatusTooManyRequests:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	default:
		// A 5xx would mean "disallow everything" and a 429 "slow down",
		// both for now only: fail, keep nothing, and try again later.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, &FetchError{
			Kind:       wildwatch.ErrKindHTTP,
			URL:        req.URL.String(),
			Status:     s,
			Retryable:  true,
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now),
			Err:        fmt.Errorf("robots.txt answered %d", s),
		}
	}
	file.Expires = now.Add(t.f.robotsTTL(resp.Header, now))
	return file, nil
}

// robotsTTL is how long a robots.txt answered with header h is used: as
// its Cache-Control max-age or Expires say, or the Fetcher's default,
// within the Fetcher's least time and MaxRobotsTTL.
func (f *Fetcher) robotsTTL(h http.Header, now time.Time) time.Duration {
	ttl := f.robotsDefaultTTL
	if d, ok := freshness(h, now); ok {
		ttl = d
	}
	return min(max(ttl, f.robotsMinTTL), MaxRobotsTTL)
}

// freshness reads how long a response stays fresh from its Cache-Control
// (max-age, less its Age; no-cache and no-store are zero) or Expires
// header; ok is false when they say nothing.
func freshness(h http.Header, now time.Time) (d time.Duration, ok bool) {
	maxAge, noCache := -1, false
	for _, v := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(k) {
			case "no-store", "no-cache":
				noCache = true
			case "max-age":
				if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n >= 0 {
					maxAge = n
				}
			}
		}
	}
	switch {
	case noCache:
		return 0, true
	case maxAge >= 0:
		age, _ := strconv.Atoi(h.Get("Age"))
		return time.Duration(max(maxAge-max(age, 0), 0)) * time.Second, true
	}
	if v := h.Get("Expires"); v != "" {
		exp, err := http.ParseTime(v)
		if err != nil {
			return 0, true // an invalid date means already expired
		}
		date, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			date = now
		}
		return max(exp.Sub(date), 0), true
	}
	return 0, false
}
