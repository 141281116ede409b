package crawler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/wildwatch/wildwatch"
)

// BrowserConfig configures a Browser. The zero value is ready to use.
type BrowserConfig struct {
	// ExecPath is the Chrome or Chromium binary; by default the first of
	// chromium, chromium-browser and google-chrome found on PATH.
	ExecPath string
	// RemoteURL is the ws:// address of a running browser to use instead
	// of starting one. The browser must reach the proxy at ProxyHost.
	RemoteURL string
	// Tabs is the number of pages rendered at once (default 4). Tabs are
	// reused from page to page.
	Tabs int
	// PageTimeout bounds everything one Render does, the retry on a fresh
	// tab included (default 45s).
	PageTimeout time.Duration
	// RecycleAfter restarts Chrome after this many pages, to give back the
	// memory a long-running browser gathers (default 200).
	RecycleAfter int
	// HangTimeout is how long a tab may take to answer a command before it
	// is taken as hung (default 10s); navigation is bounded by the target's
	// request timeout instead.
	HangTimeout time.Duration
	// ProxyHost is the IP address the in-process proxy listens on, which
	// the browser sends every request through (default 127.0.0.1). Set it
	// to an address a remote browser can reach.
	ProxyHost string
	// Logger receives the browser's lifecycle and chromedp's errors; nil
	// discards them.
	Logger *slog.Logger
}

// Defaults of BrowserConfig.
const (
	DefaultTabs         = 4
	DefaultPageTimeout  = 45 * time.Second
	DefaultRecycleAfter = 200
	DefaultHangTimeout  = 10 * time.Second
)

func (c BrowserConfig) withDefaults() BrowserConfig {
	if c.Tabs <= 0 {
		c.Tabs = DefaultTabs
	}
	if c.PageTimeout <= 0 {
		c.PageTimeout = DefaultPageTimeout
	}
	if c.RecycleAfter <= 0 {
		c.RecycleAfter = DefaultRecycleAfter
	}
	if c.HangTimeout <= 0 {
		c.HangTimeout = DefaultHangTimeout
	}
	if c.ProxyHost == "" {
		c.ProxyHost = "127.0.0.1"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Browser renders pages in headless Chrome: one browser process, started
// on the first Render, with a pool of reused tabs. It shares its Fetcher's
// address guard, politeness limiter, robots.txt answers and transports.
// It is safe for concurrent use; Close it to stop Chrome.
type Browser struct {
	f     *Fetcher
	cfg   BrowserConfig
	log   *slog.Logger
	slots chan struct{} // one per tab in use

	mu     sync.Mutex
	life   context.Context // lives until Close; Chrome is bound to it
	stop   context.CancelFunc
	closed bool
	cur    *chrome              // the browser new tabs are opened in
	all    map[*chrome]struct{} // every browser not yet stopped
	// defaultProxy is the proxy of the browser's default context, which
	// renders no page: guarded, like everything the browser does.
	defaultProxy *guardProxy
	bg           sync.WaitGroup // tabs and browsers being closed
}

// Kinds of tab: a tab's proxy is guarded or open, for good.
const (
	guardedProxy = iota // the address guard applies
	openProxy           // for targets that allow private addresses
)

// NewBrowser returns a Browser that renders with f's guard, limiter and
// transports. Nothing is started until the first Render.
func (f *Fetcher) NewBrowser(cfg BrowserConfig) *Browser {
	cfg = cfg.withDefaults()
	return &Browser{
		f:     f,
		cfg:   cfg,
		log:   cfg.Logger,
		slots: make(chan struct{}, cfg.Tabs),
		all:   make(map[*chrome]struct{}),
	}
}

// ErrBrowserClosed reports a Render after Close.
var ErrBrowserClosed = errors.New("browser closed")

// Render loads rawURL in a browser tab for target t (defaults applied),
// waits as t.Browser says, and returns the capture: the main document's
// response as the server sent it (Body, Header, Status; Text decoded from
// Body) and what the browser made of it (Rendered: DOM, full-page
// screenshot, warnings). kind is wildwatch.PageIndex or PageListing and
// chooses the default selector waited for. Mode is RenderBrowser;
// ModeReason is left to the caller.
//
// robots.txt is obeyed as Fetch obeys it, before the browser is asked and
// on every redirect of the main document; each request the page makes
// waits for its host's limiter, spaced by the host's Crawl-delay once its
// robots.txt is known, and counts against the target's daily cap.
// Errors are *FetchError: for a main document answered with a status
// outside 2xx, or a block page (ErrKindBlocked, looked for in the main
// document and in the rendered DOM), the capture is returned with the
// error, as Fetch does; a page that crashed or hung its tab twice is
// ErrKindRender, not retryable.
func (b *Browser) Render(ctx context.Context, t wildwatch.Target, rawURL string, kind string) (*wildwatch.Capture, error) {
	t = t.WithDefaults()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &FetchError{Kind: wildwatch.ErrKindHTTP, URL: rawURL, Err: errors.New("not an absolute http(s) URL")}
	}
	if !hostAllowed(t, u.Hostname()) {
		return nil, &FetchError{Kind: wildwatch.ErrKindGuard, URL: rawURL, Err: ErrHostNotAllowed}
	}
	if err := b.f.capSpent(ctx, t, rawURL); err != nil {
		return nil, err
	}
	if t.ObeysRobots() {
		if err := b.f.robotsAllowed(ctx, t, rawURL, u); err != nil {
			return nil, err
		}
	}

	// Waiting for a free tab is not the page's fault: the page deadline
	// starts once a tab is ours.
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, classify(rawURL, fmt.Errorf("waiting for a browser tab: %w", context.Cause(ctx)))
	}
	defer func() { <-b.slots }()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PageTimeout)
	defer cancel()

	var warnings []string
	for attempt := 1; ; attempt++ {
		c, err := b.attempt(ctx, pageJob{t: t, u: u, raw: rawURL, kind: kind, warnings: warnings})
		var tf *tabFailure
		if !errors.As(err, &tf) {
			if err != nil && ctx.Err() != nil && parent.Err() == nil {
				// The page used up its whole deadline: trying again later
				// would only do the same.
				return c, &FetchError{Kind: wildwatch.ErrKindRender, URL: rawURL,
					Err: fmt.Errorf("page not rendered within %v: %w", b.cfg.PageTimeout, err)}
			}
			var fe *FetchError
			if errors.As(err, &fe) && fe.URL == "" {
				fe.URL = rawURL
			}
			return c, err
		}
		b.log.WarnContext(ctx, "render failed in the tab", "target", t.Name, "url", rawURL,
			"attempt", attempt, "reason", tf.reason, "err", tf.err)
		if attempt == 2 || ctx.Err() != nil {
			return nil, &FetchError{
				Kind: wildwatch.ErrKindRender,
				URL:  rawURL,
				Err:  fmt.Errorf("%s on attempt %d of 2: %w", tf.reason, attempt, tf),
			}
		}
		warnings = append(warnings, fmt.Sprintf("%s; retried on a fresh tab", tf.reason))
	}
}

// pageJob is one page to render.
type pageJob struct {
	t        wildwatch.Target
	u        *url.URL
	raw      string
	kind     string
	warnings []string // from earlier attempts
}

// tabFailure is a tab that crashed, hung, went away or lost its browser:
// the page is worth one more try on a fresh tab.
type tabFailure struct {
	reason string // "tab crashed", "tab hung", …
	err    error
}

func (e *tabFailure) Error() string {
	if e.err == nil {
		return e.reason
	}
	return e.reason + ": " + e.err.Error()
}

func (e *tabFailure) Unwrap() error { return e.err }

// attempt renders the page once on a leased tab and gives the tab back,
// healthy or not.
func (b *Browser) attempt(ctx context.Context, job pageJob) (*wildwatch.Capture, error) {
	kind := guardedProxy
	if job.t.Politeness.AllowPrivate {
		kind = openProxy
	}
	tb, err := b.lease(ctx, kind)
	if err != nil {
		return nil, err
	}
	r := newPageRender(b, tb, job)
	c, err := r.run(ctx)
	var tf *tabFailure
	healthy := !errors.As(err, &tf) && r.reset(ctx) == nil
	hung := tf != nil && tf.reason == reasonHung
	if hung {
		b.checkBrowser(ctx, tb.c)
	}
	b.release(tb, healthy, hung)
	return c, err
}

// Close stops every Chrome this Browser started, leaving no process
// behind, and the proxies. Renders still running fail. ctx bounds the
// graceful shutdown; Chrome is killed after it.
func (b *Browser) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.cur = nil
	var chromes []*chrome
	for c := range b.all {
		chromes = append(chromes, c)
	}
	proxy := b.defaultProxy
	b.mu.Unlock()

	var errs []error
	for _, c := range chromes {
		errs = append(errs, c.shutdown(ctx))
	}
	if b.stop != nil {
		b.stop()
	}
	done := make(chan struct{})
	go func() {
		b.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("waiting for tabs to close: %w", context.Cause(ctx)))
	}
	if proxy != nil {
		errs = append(errs, proxy.Close())
	}
	return errors.Join(errs...)
}

// PIDs returns the process ids of the Chrome processes this Browser
// started and still runs (the browser and all its children), for metrics.
// It is empty for a remote browser.
func (b *Browser) PIDs() []int {
	b.mu.Lock()
	var chromes []*chrome
	for c := range b.all {
		chromes = append(chromes, c)
	}
	b.mu.Unlock()
	var pids []int
	for _, c := range chromes {
		pids = append(pids, c.processes()...)
	}
	return pids
}
