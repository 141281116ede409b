package crawler

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/wildwatch/wildwatch"
)

// crashTab crashes the tab showing pageURL with the page.crash command,
// through a session of its own, as a renderer crash would.
func crashTab(t *testing.T, b *Browser, pageURL string) {
	t.Helper()
	b.mu.Lock()
	c := b.cur
	b.mu.Unlock()
	if c == nil {
		t.Error("no browser running")
		return
	}
	infos, err := chromedp.Targets(c.ctx)
	if err != nil {
		t.Errorf("listing targets: %v", err)
		return
	}
	for _, info := range infos {
		if info.Type != "page" || info.URL != pageURL {
			continue
		}
		ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		defer cancel()
		if err := chromedp.Do(ctx); err != nil {
			t.Errorf("attaching to the tab: %v", err)
			return
		}
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		chromedp.Call(cctx, cdppage.Crash, cdp.Empty{}) // no answer: the renderer is gone
		return
	}
	t.Errorf("no tab shows %s", pageURL)
}

// startedPage tells the server it runs, then inserts its title later.
const startedPage = `<!doctype html><html><body><div id="slot"></div>
<script>
fetch('/started?' + location.pathname);
setTimeout(function () {
  var h = document.createElement('h1');
  h.textContent = 'Rhino horn cup';
  document.getElementById('slot').appendChild(h);
}, 1500);
</script></body></html>`

func TestRenderCrash(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	var started atomic.Int32
	var srvURL string
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/started":
			n := started.Add(1)
			page := r.URL.RawQuery
			// /once crashes the first time, /always every time.
			if page == "/always" || n == 1 {
				crashTab(t, b, srvURL+page)
			}
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, startedPage)
		}
	}))
	srvURL = srv.URL
	tg := localTarget(srv)

	c, err := b.Render(t.Context(), tg, srv.URL+"/once", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render after one crash: %v", err)
	}
	if !bytes.Contains(c.Rendered.DOM, []byte("Rhino horn cup")) {
		t.Errorf("DOM %q lacks the inserted title", c.Rendered.DOM)
	}
	if !slices.Contains(c.Rendered.Warnings, "tab crashed; retried on a fresh tab") {
		t.Errorf("warnings %q, want the crash and the retry", c.Rendered.Warnings)
	}

	c, err = b.Render(t.Context(), tg, srv.URL+"/always", wildwatch.PageListing)
	fe := fetchError(t, err)
	if c != nil || fe.Kind != wildwatch.ErrKindRender || fe.Retryable || !strings.Contains(err.Error(), "tab crashed") {
		t.Errorf("capture %v, error %v (%+v), want a render error, not retryable", c, err, fe)
	}
	if n := started.Load(); n != 4 {
		t.Errorf("the page started %d times, want 4 (twice per URL)", n)
	}
}

func TestRenderHang(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><html><body><p>spinning</p><script>for (;;) {}</script></body></html>`)
	}))
	c, err := b.Render(t.Context(), localTarget(srv), srv.URL+"/spin", wildwatch.PageListing)
	fe := fetchError(t, err)
	if c != nil || fe.Kind != wildwatch.ErrKindRender || fe.Retryable || !strings.Contains(err.Error(), "tab hung") {
		t.Errorf("capture %v, error %v (%+v), want a render error, not retryable", c, err, fe)
	}
	if n := len(srv.paths()); n != 2 {
		t.Errorf("the page was asked for %d times, want 2", n)
	}
	// The hung tabs are closed: no tab shows the page any more.
	b.mu.Lock()
	cur := b.cur
	b.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		infos, err := chromedp.Targets(cur.ctx)
		if err != nil {
			t.Fatalf("listing targets: %v", err)
		}
		if !slices.ContainsFunc(infos, func(i *target.Info) bool { return strings.HasPrefix(i.URL, srv.URL) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a hung tab is still open")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserLifecycle runs a Browser of its own (not in parallel with the
// shared one): recycling after RecycleAfter pages, a restart after Chrome
// is killed, a stopped (unanswering) Chrome killed and replaced, and Close
// leaving no process and no directory behind.
func TestBrowserLifecycle(t *testing.T) {
	if _, err := findChrome(""); err != nil {
		t.Fatalf("the browser tests need Chromium (make chromium installs it): %v", err)
	}
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<h1>Hornbill casque</h1>")
	}))
	f := newFetcher(t, Config{})
	b := f.NewBrowser(BrowserConfig{Tabs: 1, RecycleAfter: 3, HangTimeout: 3 * time.Second, Logger: testLogger(t)})
	tg := localTarget(srv)
	render := func(path string) *chrome {
		t.Helper()
		if _, err := b.Render(t.Context(), tg, srv.URL+path, wildwatch.PageListing); err != nil {
			t.Fatalf("Render %s: %v", path, err)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		for c := range b.all {
			if !c.retired {
				return c
			}
		}
		return nil
	}
	seen := map[*chrome]bool{}
	first := render("/1")
	seen[first] = true
	if first == nil || first.pid == 0 || len(first.processes()) == 0 {
		t.Fatalf("no running Chrome after the first page")
	}
	idle := func(c *chrome) []*tab {
		b.mu.Lock()
		defer b.mu.Unlock()
		return slices.Clone(c.idle)
	}
	tabs := idle(first)
	render("/2")
	if again := idle(first); len(tabs) != 1 || len(again) != 1 || again[0] != tabs[0] {
		t.Errorf("idle tabs %v after one page, %v after two: want the one tab reused", tabs, again)
	}
	render("/3") // the third page retires the first Chrome
	third := render("/3b")
	seen[third] = true
	if third == nil || third == first || third.pid == first.pid {
		t.Fatalf("Chrome was not restarted after RecycleAfter pages")
	}
	waitGone(t, first.dir)

	if err := syscall.Kill(third.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	fourth := render("/4")
	seen[fourth] = true
	if fourth == nil || fourth == third {
		t.Fatalf("Chrome was not restarted after it died")
	}

	// A browser that stops answering is killed and replaced.
	if err := syscall.Kill(fourth.pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stalled := tg
	stalled.Limits.Timeout = wildwatch.Duration(2 * time.Second)
	c, err := b.Render(t.Context(), stalled, srv.URL+"/5", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render on a stopped browser: %v", err)
	}
	if !slices.Contains(c.Rendered.Warnings, "tab hung; retried on a fresh tab") {
		t.Errorf("warnings %q, want the hang and the retry", c.Rendered.Warnings)
	}
	b.mu.Lock()
	fifth := b.cur
	b.mu.Unlock()
	seen[fifth] = true
	if fifth == nil || fifth == fourth {
		t.Fatal("the stopped Chrome was not replaced")
	}
	waitGone(t, fourth.dir)

	if err := b.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	for c := range seen {
		if pids := chromeProcesses(c.dir); len(pids) > 0 {
			t.Errorf("processes %v of Chrome %d are left after Close", pids, c.pid)
		}
		if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("user data directory %s is left: %v", c.dir, err)
		}
	}
	if _, err := b.Render(t.Context(), tg, srv.URL+"/6", wildwatch.PageListing); !errors.Is(err, ErrBrowserClosed) {
		t.Errorf("Render after Close: %v, want ErrBrowserClosed", err)
	}
}

// waitGone waits until no process of the Chrome with user data directory
// dir is left.
func waitGone(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(chromeProcesses(dir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of a stopped Chrome are left", chromeProcesses(dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBrowserRemote renders through a browser started apart, as with
// --chrome-url: nothing is started, and requests still go through the
// Browser's proxy.
func TestBrowserRemote(t *testing.T) {
	path, err := findChrome("")
	if err != nil {
		t.Fatalf("the browser tests need Chromium (make chromium installs it): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(path, "--headless", "--disable-gpu", "--no-first-run", "--no-sandbox",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--remote-debugging-port=0", "--user-data-dir="+dir, "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		killProcesses(dir)
	})
	wsURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "DevTools listening on "); ok {
				wsURL <- u
			}
		}
	}()
	var remote string
	select {
	case remote = <-wsURL:
	case <-time.After(30 * time.Second):
		t.Fatal("the remote browser did not print its address")
	}

	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<div id="x"></div><script>setTimeout(function(){document.getElementById('x').innerHTML='<h1>Hawksbill shell</h1>'},200)</script>`)
	}))
	f := newFetcher(t, Config{})
	b := f.NewBrowser(BrowserConfig{RemoteURL: remote, Tabs: 1, HangTimeout: 3 * time.Second, Logger: testLogger(t)})
	c, err := b.Render(t.Context(), localTarget(srv), srv.URL+"/remote", wildwatch.PageListing)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !bytes.Contains(c.Rendered.DOM, []byte("<h1>Hawksbill shell</h1>")) || c.RemoteIP != "127.0.0.1" {
		t.Errorf("DOM %q, remote IP %q", c.Rendered.DOM, c.RemoteIP)
	}
	if pids := b.PIDs(); len(pids) != 0 {
		t.Errorf("a remote Browser reports processes %v", pids)
	}
	if err := b.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("closing the Browser stopped the remote browser: %v", err)
	}
}
