package crawler

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	"github.com/wildwatch/wildwatch"
)

// chrome is one browser process (or one connection to a remote browser)
// and its tabs. A Browser replaces it when it dies, hangs or has rendered
// RecycleAfter pages.
type chrome struct {
	b           *Browser
	ctx         context.Context // chromedp's root context of this browser
	cancel      context.CancelFunc
	allocCancel context.CancelFunc
	dir         string // user data directory; "" for a remote browser
	pid         int
	product     string          // "Chrome/156.0…"
	lost        <-chan struct{} // closed when the connection drops
	ready       chan struct{}   // closed when started, or failed to
	err         error           // why it failed to start

	stopOnce sync.Once
	stopErr  error

	// Under b.mu.
	idle    []*tab
	leased  int
	pages   int
	retired bool // no new tabs; stopped once the last leased tab is back
	stopped bool
}

// tab is one page target in a browser context of its own, which sends
// every request through the tab's own proxy, guarded or open. It is reused
// from page to page.
type tab struct {
	c      *chrome
	ctx    context.Context // long-lived chromedp context of the tab
	cancel context.CancelFunc
	kind   int         // guardedProxy or openProxy
	proxy  *guardProxy // the tab's own
	frame  cdp.FrameID

	// What the tab emulates now; set by the one render using the tab.
	viewport  wildwatch.Viewport
	userAgent string
}

func (c *chrome) dead() bool {
	if c.lost == nil {
		return false
	}
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

// lease returns a tab of the given kind, starting Chrome when there is
// none, or a dead, retired one.
func (b *Browser) lease(ctx context.Context, kind int) (*tab, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, &FetchError{Kind: wildwatch.ErrKindRender, Err: ErrBrowserClosed}
	}
	if b.life == nil {
		// Chrome outlives any one Render; it keeps the first caller's
		// values, not its deadline.
		b.life, b.stop = context.WithCancel(context.WithoutCancel(ctx))
	}
	if b.cur != nil && (b.cur.dead() || b.cur.retired) {
		b.retireLocked(b.cur)
	}
	if b.cur == nil {
		if err := b.startProxiesLocked(); err != nil {
			b.mu.Unlock()
			return nil, &FetchError{Kind: wildwatch.ErrKindRender, Err: err}
		}
		b.cur = b.startChromeLocked()
	}
	c := b.cur
	b.mu.Unlock()

	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, classify("", fmt.Errorf("waiting for the browser to start: %w", context.Cause(ctx)))
	}
	if c.err != nil {
		b.mu.Lock()
		if b.cur == c {
			b.retireLocked(c)
		}
		b.mu.Unlock()
		return nil, &FetchError{Kind: wildwatch.ErrKindRender, Err: fmt.Errorf("starting the browser: %w", c.err)}
	}

	b.mu.Lock()
	var found, other *tab
	for i, t := range c.idle {
		if t.kind == kind {
			found = t
			c.idle = append(c.idle[:i], c.idle[i+1:]...)
			break
		}
	}
	if found == nil && c.leased+len(c.idle) >= b.cfg.Tabs && len(c.idle) > 0 {
		// Make room: an idle tab of the other kind goes.
		other, c.idle = c.idle[0], c.idle[1:]
	}
	c.leased++
	b.mu.Unlock()
	if other != nil {
		b.closeTab(other, false)
	}
	if found != nil {
		return found, nil
	}
	t, err := c.newTab(ctx, kind)
	if err != nil {
		b.mu.Lock()
		c.leased--
		b.mu.Unlock()
		switch {
		case c.dead():
			return nil, &tabFailure{reason: reasonBrowserLost, err: err}
		case errors.Is(err, errNoAnswer):
			b.checkBrowser(ctx, c)
			return nil, &tabFailure{reason: reasonHung, err: err}
		}
		return nil, &tabFailure{reason: "tab did not open", err: err}
	}
	return t, nil
}

// release gives a tab back: to the idle pool when healthy and its browser
// is in service, else it is closed. A retired browser with no tab out is
// stopped.
func (b *Browser) release(t *tab, healthy, hung bool) {
	c := t.c
	b.mu.Lock()
	c.leased--
	c.pages++
	if c.pages >= b.cfg.RecycleAfter && !c.retired {
		b.log.Info("recycling the browser", "pages", c.pages, "pid", c.pid)
		b.retireLocked(c)
	}
	keep := healthy && !c.retired && !c.dead() && !b.closed
	if keep {
		c.idle = append(c.idle, t)
	}
	stop := c.retired && c.leased == 0 && !c.stopped
	b.mu.Unlock()
	if !keep {
		b.closeTab(t, hung)
	}
	if stop {
		b.stopInBackground(c)
	}
}

// retireLocked takes c out of service; it is stopped once no tab of it is
// leased.
func (b *Browser) retireLocked(c *chrome) {
	c.retired = true
	if b.cur == c {
		b.cur = nil
	}
	if c.leased == 0 && !c.stopped {
		b.stopInBackground(c)
	}
}

func (b *Browser) stopInBackground(c *chrome) {
	c.stopped = true
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		ctx, cancel := context.WithTimeout(b.life, 10*time.Second)
		defer cancel()
		if err := c.shutdown(ctx); err != nil {
			b.log.Warn("stopping the browser", "pid", c.pid, "err", err)
		}
	}()
}

// closeTab closes a tab in the background. A hung tab's renderer is
// crashed first (the browser does that off the renderer's busy thread), or
// it would keep a core busy after its tab is gone.
func (b *Browser) closeTab(t *tab, hung bool) {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		if hung && t.frame != "" {
			ctx, cancel := context.WithTimeout(t.ctx, b.cfg.HangTimeout)
			chromedp.Call(ctx, cdppage.Crash, cdp.Empty{})
			cancel()
		}
		t.cancel()
		t.proxy.Close()
	}()
}

// checkBrowser asks the browser of a hung tab for its version; a browser
// that does not answer either is killed, and the next lease starts another.
func (b *Browser) checkBrowser(ctx context.Context, c *chrome) {
	pctx, cancel := context.WithTimeout(c.ctx, b.cfg.HangTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	if _, err := chromedp.CallBrowser(pctx, browser.GetVersion, cdp.Empty{}); err == nil || ctx.Err() != nil {
		return
	}
	b.log.Warn("the browser does not answer; killing it", "pid", c.pid)
	b.mu.Lock()
	b.retireLocked(c)
	b.mu.Unlock()
	c.kill()
}

func (b *Browser) startProxiesLocked() error {
	if b.defaultProxy != nil {
		return nil
	}
	p, err := b.newProxy(guardedProxy)
	b.defaultProxy = p
	return err
}

// newProxy starts a proxy whose upstream connections are guarded, or not
// for kind openProxy.
func (b *Browser) newProxy(kind int) (*guardProxy, error) {
	if kind == openProxy {
		return newGuardProxy(b.log, b.cfg.ProxyHost, b.f.open, guardedDialer(nil))
	}
	return newGuardProxy(b.log, b.cfg.ProxyHost, b.f.guarded,
		guardedDialer(func(ap netip.AddrPort) error { return b.f.policy(ap) }))
}

// startChromeLocked starts a browser in the background; its ready channel
// closes when it can open tabs.
func (b *Browser) startChromeLocked() *chrome {
	c := &chrome{b: b, ready: make(chan struct{})}
	b.all[c] = struct{}{}
	go func() {
		defer close(c.ready)
		c.err = c.start()
	}()
	return c
}

// startTimeout bounds the start of a browser.
const startTimeout = time.Minute

// chromeFlags are the command line of a started Chrome, beyond its user
// data directory and proxy. Background networking and component updates
// are off: they open connections of their own that a closed network
// refuses, many at a time.
var chromeFlags = []chromedp.ExecAllocatorOption{
	chromedp.Flag("headless", true),
	chromedp.Flag("disable-gpu", true),
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("no-default-browser-check", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-extensions", true),
	chromedp.Flag("disable-default-apps", true),
	chromedp.Flag("disable-breakpad", true),
	chromedp.Flag("disable-client-side-phishing-detection", true),
	chromedp.Flag("disable-domain-reliability", true),
	// No back/forward cache: a page left for about:blank must go, with
	// its renderer and its requests.
	chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,BackForwardCache,SpareRendererForSitePerProcess,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup"),
	chromedp.Flag("disable-background-timer-throttling", true),
	chromedp.Flag("disable-backgrounding-occluded-windows", true),
	chromedp.Flag("disable-renderer-backgrounding", true),
	chromedp.Flag("disable-hang-monitor", true),
	chromedp.Flag("disable-ipc-flooding-protection", true),
	chromedp.Flag("disable-dev-shm-usage", true),
	chromedp.Flag("metrics-recording-only", true),
	chromedp.Flag("safebrowsing-disable-auto-update", true),
	chromedp.Flag("password-store", "basic"),
	chromedp.Flag("use-mock-keychain", true),
	chromedp.Flag("hide-scrollbars", true),
	chromedp.Flag("mute-audio", true),
	chromedp.Flag("force-color-profile", "srgb"),
}

func (c *chrome) start() error {
	b := c.b
	var allocCtx context.Context
	if b.cfg.RemoteURL != "" {
		allocCtx, c.allocCancel = remote.NewAllocator(b.life, b.cfg.RemoteURL)
	} else {
		path, err := findChrome(b.cfg.ExecPath)
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "wildwatch-chrome-")
		if err != nil {
			return fmt.Errorf("making the user data directory: %w", err)
		}
		c.dir = dir
		opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(path)}, chromeFlags...)
		opts = append(opts,
			chromedp.UserDataDir(dir),
			// Crash reports go into the user data directory, removed with
			// it, and so name the crash handler (which detaches from the
			// browser) as one of the browser's processes.
			chromedp.Env("BREAKPAD_DUMP_LOCATION="+filepath.Join(dir, "crash")),
			// The default browser context, which no page is rendered in,
			// is guarded too; each tab's context names its own proxy.
			chromedp.ProxyServer(b.defaultProxy.URL()),
			chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		)
		allocCtx, c.allocCancel = chromedp.NewExecAllocator(b.life, opts...)
	}
	// A browser that does not come up within startTimeout is stopped.
	startCtx, stopStart := context.WithCancel(allocCtx)
	watchdog := time.AfterFunc(startTimeout, stopStart)
	defer watchdog.Stop()
	c.ctx, c.cancel = chromedp.NewContext(startCtx,
		chromedp.WithErrorf(func(format string, args ...any) {
			b.log.Debug("chromedp: " + fmt.Sprintf(format, args...))
		}),
		chromedp.WithLogf(func(format string, args ...any) {
			b.log.Debug("chromedp: " + fmt.Sprintf(format, args...))
		}))
	// The first call binds the browser's life to c.ctx; it has no
	// deadline of its own, so a slow start is bounded by the lease.
	v, err := chromedp.CallBrowser(c.ctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		c.cancel()
		stopStart()
		c.allocCancel()
		c.cleanup()
		return fmt.Errorf("starting %s: %w", cmpOr(b.cfg.RemoteURL, b.cfg.ExecPath, "chrome"), err)
	}
	if !watchdog.Stop() {
		err := errors.New("the browser did not start in time")
		c.cancel()
		c.allocCancel()
		c.cleanup()
		return err
	}
	c.product = v.Product
	cc := chromedp.FromContext(c.ctx)
	c.lost = cc.Browser.LostConnection
	if p := cc.Browser.Process(); p != nil {
		c.pid = p.Pid
	}
	b.log.Info("browser started", "product", c.product, "pid", c.pid, "remote", b.cfg.RemoteURL != "")
	return nil
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// findChrome returns the browser binary to start.
func findChrome(execPath string) (string, error) {
	if execPath != "" {
		p, err := exec.LookPath(execPath)
		if err != nil {
			return "", fmt.Errorf("browser %s: %w", execPath, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH (make chromium installs Debian's)")
}

// newTab opens a tab in a browser context of its own whose proxy is the
// one of kind. Its first action runs on the tab's long-lived context: the
// tab's event loop lives as long as the context of that first call.
func (c *chrome) newTab(ctx context.Context, kind int) (*tab, error) {
	b := c.b
	// Each tab has a proxy of its own, guarded or not for good: the guard
	// depends on the target (private addresses allowed or not) and must
	// hold at connect time, so a tab only renders targets of its kind. A
	// proxy per tab also says which tab a connection is for (the address
	// a page came from, a refusal) and lets a tab's connections be dropped
	// between pages.
	proxy, err := b.newProxy(kind)
	if err != nil {
		return nil, err
	}
	tctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext(func(p *target.CreateBrowserContextParams) {
		// Loopback is not bypassed: it is what the guard is for.
		p.ProxyServer = proxy.URL()
		p.ProxyBypassList = "<-loopback>"
	}))
	t := &tab{c: c, ctx: tctx, cancel: cancel, kind: kind, proxy: proxy}
	done := make(chan error, 1)
	go func() {
		done <- chromedp.Do(tctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			t.frame = cdp.FrameID(tg.TargetID)
			if _, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{
				Patterns: []*fetch.RequestPattern{{URLPattern: "*"}},
			}); err != nil {
				return fmt.Errorf("enabling interception: %w", err)
			}
			// Evidence is the server's answer of the moment, never a copy
			// from the cache.
			_, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
			return err
		}))
	}()
	timer := time.NewTimer(2 * b.cfg.HangTimeout)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		err = fmt.Errorf("the new tab: %w", errNoAnswer)
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if err != nil {
		b.closeTab(t, false)
		return nil, fmt.Errorf("opening a tab: %w", err)
	}
	return t, nil
}

// shutdown closes the browser gracefully within ctx, then kills whatever
// is left of it and removes its user data directory. It runs once; later
// calls wait for it.
func (c *chrome) shutdown(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func (c *chrome) stop(ctx context.Context) error {
	<-c.ready
	if c.err != nil {
		c.forget()
		return nil
	}
	c.b.mu.Lock()
	tabs := c.idle
	c.idle = nil
	c.b.mu.Unlock()

	var errs []error
	if c.dir != "" && !c.dead() {
		gctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		stop := context.AfterFunc(ctx, cancel)
		if err := chromedp.Cancel(gctx); err != nil && !errors.Is(err, context.Canceled) &&
			!errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, fmt.Errorf("closing the browser: %w", err))
		}
		stop()
		cancel()
	}
	c.cancel()
	c.allocCancel()
	for _, t := range tabs {
		t.cancel()
		t.proxy.Close()
	}
	errs = append(errs, c.cleanup())
	c.forget()
	return errors.Join(errs...)
}

// kill ends the browser at once.
func (c *chrome) kill() {
	<-c.ready
	if c.err != nil {
		return
	}
	if p := chromedp.FromContext(c.ctx).Browser.Process(); p != nil {
		p.Kill()
	}
	c.cancel()
}

func (c *chrome) forget() {
	c.b.mu.Lock()
	delete(c.b.all, c)
	c.b.mu.Unlock()
}

// cleanup kills every process left of the browser and removes its user
// data directory.
func (c *chrome) cleanup() error {
	if c.dir == "" {
		return nil
	}
	killProcesses(c.dir)
	if err := removeAllRetry(c.dir); err != nil {
		return fmt.Errorf("removing %s: %w", c.dir, err)
	}
	return nil
}

// processes lists the browser's processes.
func (c *chrome) processes() []int {
	select {
	case <-c.ready:
	default:
		return nil
	}
	if c.err != nil || c.dir == "" {
		return nil
	}
	return chromeProcesses(c.dir)
}
