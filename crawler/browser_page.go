package crawler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wildwatch/wildwatch"
)

// Bounds of a render.
const (
	// idleQuiet is how long no request may be in flight for the network
	// to count as idle.
	idleQuiet = 500 * time.Millisecond
	// scrollSettle bounds the wait for the network after one scroll.
	scrollSettle = 3 * time.Second
	// pollEvery is how often the wait selector is looked for.
	pollEvery = 100 * time.Millisecond
	// maxShotHeight bounds the screenshot of a very long (or wide) page,
	// in CSS pixels.
	maxShotHeight = 16384
)

// errNoAnswer is the cause of a command's own deadline: the tab did not
// answer in time.
var errNoAnswer = errors.New("no answer")

// pageRender is one attempt at rendering a page on one tab.
type pageRender struct {
	b    *Browser
	tab  *tab
	job  pageJob
	t    wildwatch.Target
	rule LimitRule
	hang time.Duration
	// tr is the target's static transport, for robots.txt; blocks are its
	// block pages.
	tr     *fetchTransport
	blocks blockRules

	actx     context.Context // the tab's context, ending with the Render's
	fail     context.CancelCauseFunc
	net      *netTracker
	warnings []string
}

func newPageRender(b *Browser, tb *tab, job pageJob) *pageRender {
	entry := b.f.collector(job.t)
	return &pageRender{
		b:      b,
		tab:    tb,
		job:    job,
		t:      job.t,
		rule:   limitRule(job.t),
		hang:   b.cfg.HangTimeout,
		tr:     entry.tr,
		blocks: entry.blocks,
	}
}

// run renders the page and stops everything the attempt started.
func (r *pageRender) run(ctx context.Context) (*wildwatch.Capture, error) {
	actx, cancel := context.WithCancelCause(r.tab.ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancelDl context.CancelFunc
		actx, cancelDl = context.WithDeadline(actx, dl)
		defer cancelDl()
	}
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	defer stop()
	r.actx, r.fail = actx, cancel
	r.net = newNetTracker(r, actx)
	defer func() {
		cancel(errors.New("attempt over"))
		r.net.finish()
	}()

	if err := chromedp.Listen(actx, r.net.onEvent); err != nil {
		return nil, &tabFailure{reason: reasonGone, err: err}
	}
	detached, err := chromedp.Detached(r.tab.ctx)
	if err != nil {
		return nil, &tabFailure{reason: reasonGone, err: err}
	}
	go func() {
		select {
		case <-detached:
			cancel(&tabFailure{reason: reasonGone})
		case <-r.tab.c.lost:
			cancel(&tabFailure{reason: reasonBrowserLost})
		case <-actx.Done():
		}
	}()

	c, err := r.render(ctx)
	if tf := r.failure(); tf != nil {
		return nil, tf
	}
	if err != nil && r.actx.Err() != nil && ctx.Err() == nil {
		return nil, r.lostTab()
	}
	return c, err
}

// failure returns the tab failure that ended the attempt, if one did.
func (r *pageRender) failure() *tabFailure {
	var tf *tabFailure
	if errors.As(context.Cause(r.actx), &tf) {
		return tf
	}
	return nil
}

// bounded runs fn with a deadline of limit; a tab that does not answer in
// time is hung, and the attempt ends.
func (r *pageRender) bounded(ctx context.Context, limit time.Duration, what string, fn func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeoutCause(ctx, limit, errNoAnswer)
	defer cancel()
	err := fn(cctx)
	if err == nil {
		return nil
	}
	if tf := r.failure(); tf != nil {
		return tf
	}
	if ctx.Err() == nil && errors.Is(context.Cause(cctx), errNoAnswer) {
		tf := &tabFailure{reason: reasonHung, err: fmt.Errorf("%s: no answer within %v", what, limit)}
		r.fail(tf)
		return tf
	}
	return err
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](r *pageRender, ctx context.Context, expr string) (T, error) {
	var v T
	err := r.bounded(ctx, r.hang, "evaluating", func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		return err
	})
	return v, err
}

// ended turns the end of the attempt's context into the Render's error:
// the Render's deadline, or the tab's context ending under it.
func (r *pageRender) ended(ctx context.Context, what string) error {
	if tf := r.failure(); tf != nil {
		return tf
	}
	if ctx.Err() == nil {
		return r.lostTab()
	}
	return classify(r.job.raw, fmt.Errorf("%s: %w", what, context.Cause(ctx)))
}

// lostTab is the failure of a tab whose context ended: its browser died
// or was stopped, or the tab was closed.
func (r *pageRender) lostTab() *tabFailure {
	if r.tab.c.dead() || r.tab.c.ctx.Err() != nil {
		return &tabFailure{reason: reasonBrowserLost, err: context.Cause(r.actx)}
	}
	return &tabFailure{reason: reasonGone, err: context.Cause(r.actx)}
}

func (r *pageRender) render(ctx context.Context) (*wildwatch.Capture, error) {
	t, vp := r.t, r.t.Browser.Viewport
	if err := r.emulate(); err != nil {
		return nil, r.failed(ctx, err)
	}
	started := time.Now().UTC()
	if err := r.navigate(ctx, started); err != nil {
		return nil, err
	}
	select {
	case <-r.net.mainDone:
	case <-r.actx.Done():
		return nil, r.ended(ctx, "waiting for the main document")
	case <-time.After(r.hang):
		return nil, classify(r.job.raw, errors.New("the main document's response was not seen"))
	}
	doc := r.net.document()
	c := r.capture(doc, started)
	// A block page is captured as it is, without waiting for content it
	// will not show.
	blocked := r.blocks.match(c.Status, pageHTML(c))

	if doc.status >= 200 && doc.status < 300 && blocked == "" {
		if err := r.wait(ctx); err != nil {
			return nil, err
		}
	}
	dom, err := eval[string](r, r.actx, "document.documentElement ? document.documentElement.outerHTML : ''")
	if err != nil {
		return nil, r.failed(ctx, fmt.Errorf("reading the DOM: %w", err))
	}
	shot, err := r.screenshot()
	if err != nil {
		return nil, r.failed(ctx, fmt.Errorf("taking the screenshot: %w", err))
	}
	c.Rendered = &wildwatch.Rendering{
		DOM:        []byte(dom),
		Screenshot: shot,
		Viewport:   vp,
		RenderedAt: time.Now().UTC(),
		Browser:    r.tab.c.product,
		Warnings:   slices.Concat(r.job.warnings, r.warnings, r.net.warnings()),
	}
	r.b.log.DebugContext(ctx, "rendered", "target", t.Name, "url", r.job.raw, "status", c.Status,
		"dom", len(c.Rendered.DOM), "screenshot", len(shot), "warnings", len(c.Rendered.Warnings))
	if blocked == "" {
		blocked = r.blocks.match(c.Status, dom)
	}
	if blocked != "" {
		return c, r.b.f.blocked(ctx, r.job.raw, c, blocked)
	}
	if fe := statusError(r.job.raw, c.Status, c.Header, time.Now()); fe != nil {
		return c, fe
	}
	return c, nil
}

// emulate sets the tab's viewport and User-Agent, when they differ from
// the last page's: a change of viewport costs a new layout.
func (r *pageRender) emulate() error {
	vp, ua := r.t.Browser.Viewport, r.t.UserAgent
	if r.tab.viewport == vp && r.tab.userAgent == ua {
		return nil
	}
	err := r.bounded(r.actx, r.hang, "setting up the page", func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: int64(vp.Width), Height: int64(vp.Height), DeviceScaleFactor: 1,
		}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua})
		return err
	})
	if err != nil {
		return err
	}
	r.tab.viewport, r.tab.userAgent = vp, ua
	return nil
}

// failed reports err, or the tab failure or deadline behind it.
func (r *pageRender) failed(ctx context.Context, err error) error {
	var tf *tabFailure
	if errors.As(err, &tf) {
		return tf
	}
	if r.actx.Err() != nil {
		return r.ended(ctx, err.Error())
	}
	return &FetchError{Kind: wildwatch.ErrKindRender, URL: r.job.raw, Err: err}
}

// navigate loads the page. A navigation the browser reports as failed is
// an error unless the main document's response came (an error status
// shown as the browser's own page).
func (r *pageRender) navigate(ctx context.Context, started time.Time) error {
	nctx, cancel := context.WithTimeout(r.actx, time.Duration(r.t.Limits.Timeout))
	defer cancel()
	res, err := chromedp.Call(nctx, cdppage.Navigate, cdppage.NavigateParams{URL: r.job.raw})
	if err != nil {
		if tf := r.failure(); tf != nil {
			return tf
		}
		if r.actx.Err() == nil && nctx.Err() != nil {
			// Slow server or busy tab? A tab that answers is waiting
			// on the network.
			if _, err := eval[int](r, r.actx, "1"); err != nil {
				return r.failed(ctx, err)
			}
			return classify(r.job.raw, fmt.Errorf("navigating: %w", context.DeadlineExceeded))
		}
		if r.actx.Err() != nil {
			return r.ended(ctx, "navigating")
		}
		return &FetchError{Kind: wildwatch.ErrKindRender, URL: r.job.raw, Err: fmt.Errorf("navigating: %w", err)}
	}
	if res.ErrorText == "" {
		return nil
	}
	doc := r.net.document()
	switch {
	case doc.refused != nil:
		return classify(r.job.raw, doc.refused)
	case doc.status != 0:
		return nil
	}
	if last, err := url.Parse(doc.lastURL); err == nil {
		port := "80"
		if last.Scheme == "https" {
			port = "443"
		}
		if gerr := r.tab.proxy.refusal(hostPort(last.Host, port), started); gerr != nil {
			return classify(r.job.raw, gerr)
		}
	}
	return classify(r.job.raw, fmt.Errorf("navigation failed: %s", res.ErrorText))
}

// wait waits as the target says, then for ExtraWait, then scrolls.
func (r *pageRender) wait(ctx context.Context) error {
	b := r.t.Browser
	maxWait := time.Duration(b.MaxWait)
	wctx, cancel := context.WithTimeout(r.actx, maxWait)
	defer cancel()
	var err error
	var timedOut string
	switch sel := r.waitSelector(); {
	case b.Wait == wildwatch.WaitNetworkIdle:
		err = r.net.waitIdle(wctx, idleQuiet)
		timedOut = fmt.Sprintf("network not idle within %v (%d requests in flight); captured as it was", maxWait, r.net.inFlight())
	case b.Wait == wildwatch.WaitSelector && sel != "":
		err = r.pollSelector(wctx, sel)
		timedOut = fmt.Sprintf("selector %q did not appear within %v; captured as it was", sel, maxWait)
	default:
		select {
		case <-r.net.loaded:
		case <-wctx.Done():
			err = context.Cause(wctx)
		}
		timedOut = fmt.Sprintf("load event did not fire within %v; captured as it was", maxWait)
	}
	if err != nil {
		if r.actx.Err() != nil || errors.As(err, new(*tabFailure)) {
			return r.failed(ctx, err)
		}
		if errors.Is(err, errBadSelector) {
			r.warnings = append(r.warnings, err.Error())
		} else {
			r.warnings = append(r.warnings, timedOut)
		}
	}
	if extra := time.Duration(b.ExtraWait); extra > 0 {
		timer := time.NewTimer(extra)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.actx.Done():
			return r.ended(ctx, "extra wait")
		}
	}
	if b.Scroll {
		return r.scroll(ctx)
	}
	return nil
}

// waitSelector is the selector a page waits for: the target's, or the
// page kind's own.
func (r *pageRender) waitSelector() string {
	if s := r.t.Browser.WaitSelector; s != "" {
		return s
	}
	if r.job.kind == wildwatch.PageIndex {
		return r.t.Selectors.ListingLinks
	}
	return r.t.Selectors.Fields.Title
}

var errBadSelector = errors.New("wait selector")

// pollSelector waits until sel matches an element.
func (r *pageRender) pollSelector(ctx context.Context, sel string) error {
	q, _ := json.Marshal(sel)
	expr := "document.querySelector(" + string(q) + ") !== null"
	for {
		found, err := eval[bool](r, ctx, expr)
		var ee *chromedp.ExceptionError
		switch {
		case errors.As(err, &ee):
			return fmt.Errorf("%w %q is not valid in the browser; captured without waiting for it", errBadSelector, sel)
		case errors.As(err, new(*tabFailure)), ctx.Err() != nil:
			return cmpErr(err, context.Cause(ctx))
		case err == nil && found:
			return nil
		}
		// Not there yet, or the document is being replaced.
		timer := time.NewTimer(pollEvery)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		}
	}
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

const heightJS = "Math.max(document.body ? document.body.scrollHeight : 0, document.documentElement.scrollHeight)"

// scroll scrolls to the bottom while the page grows, up to MaxScrolls
// times, letting the network settle after each scroll; then back to the
// top.
func (r *pageRender) scroll(ctx context.Context) error {
	b := r.t.Browser
	grew := false
	for i := 0; i < b.MaxScrolls; i++ {
		h0, err := eval[float64](r, r.actx, heightJS)
		if err != nil {
			return r.failed(ctx, fmt.Errorf("scrolling: %w", err))
		}
		if _, err := eval[chromedp.Void](r, r.actx, fmt.Sprintf("window.scrollTo(0, %d)", int64(h0))); err != nil {
			return r.failed(ctx, fmt.Errorf("scrolling: %w", err))
		}
		r.net.touch()
		// Loading the next batch takes a moment; a page whose network never
		// settles (a resource that never answers) must not cost MaxWait per
		// scroll.
		sctx, cancel := context.WithTimeout(r.actx, min(time.Duration(b.MaxWait), scrollSettle))
		err = r.net.waitIdle(sctx, idleQuiet)
		cancel()
		if err != nil && r.actx.Err() != nil {
			return r.ended(ctx, "scrolling")
		}
		h1, err := eval[float64](r, r.actx, heightJS)
		if err != nil {
			return r.failed(ctx, fmt.Errorf("scrolling: %w", err))
		}
		if grew = h1 > h0; !grew {
			break
		}
	}
	if grew {
		r.warnings = append(r.warnings, fmt.Sprintf("page still growing after %d scrolls", b.MaxScrolls))
	}
	if _, err := eval[chromedp.Void](r, r.actx, "window.scrollTo(0, 0)"); err != nil {
		return r.failed(ctx, fmt.Errorf("scrolling: %w", err))
	}
	return nil
}

// screenshot takes a PNG of the whole page, up to maxShotHeight.
func (r *pageRender) screenshot() ([]byte, error) {
	var shot []byte
	err := r.bounded(r.actx, 3*r.hang, "taking the screenshot", func(ctx context.Context) error {
		m, err := chromedp.Call(ctx, cdppage.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return err
		}
		w, h := float64(r.t.Browser.Viewport.Width), float64(r.t.Browser.Viewport.Height)
		if s := m.CSSContentSize; s != nil {
			w, h = min(max(w, math.Ceil(s.Width)), maxShotHeight), max(h, math.Ceil(s.Height))
		}
		if h > maxShotHeight {
			r.warnings = append(r.warnings, fmt.Sprintf("screenshot cut at %d of %d pixels", maxShotHeight, int(h)))
			h = maxShotHeight
		}
		yes := true
		res, err := chromedp.Call(ctx, cdppage.CaptureScreenshot, cdppage.CaptureScreenshotParams{
			Format:                cdppage.CaptureScreenshotFormatPng,
			Clip:                  &cdppage.Viewport{X: 0, Y: 0, Width: w, Height: h, Scale: 1},
			CaptureBeyondViewport: &yes,
			FromSurface:           &yes,
		})
		shot = res.Data
		return err
	})
	return shot, err
}

// capture builds the Capture from the main document's response.
func (r *pageRender) capture(doc mainDoc, started time.Time) *wildwatch.Capture {
	t := r.t
	body := doc.body
	truncated := int64(len(body)) > t.Limits.MaxBodyBytes
	if truncated {
		body = body[:t.Limits.MaxBodyBytes]
	}
	c := &wildwatch.Capture{
		Target:        t.Name,
		URL:           r.job.raw,
		FinalURL:      doc.url,
		StartedAt:     started,
		FetchedAt:     doc.fetchedAt,
		Status:        doc.status,
		UserAgent:     t.UserAgent,
		RequestHeader: doc.sent,
		Header:        doc.header,
		Proto:         doc.proto,
		Body:          body,
		Truncated:     truncated,
		Mode:          wildwatch.RenderBrowser,
	}
	if u, err := url.Parse(doc.url); err == nil {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		c.RemoteIP = r.tab.proxy.remoteIP(hostPort(u.Host, port))
	}
	if ct := doc.header.Get("Content-Type"); isText(ct) {
		c.Text, c.Charset = DecodeText(body, ct)
	}
	return c
}

// reset leaves the tab blank for the next page; a tab that does not get
// there is not reused.
func (r *pageRender) reset(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(r.tab.ctx, r.hang)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	// Stop the page's loads first: leaving the page does not always
	// cancel them.
	if _, err := chromedp.Call(rctx, cdppage.StopLoading, cdp.Empty{}); err != nil {
		return err
	}
	// The page itself leaves for about:blank, which so stays in the
	// page's process: the next page of the same site needs no new one.
	// Evaluations fail while the document is replaced; only the deadline
	// ends the wait.
	var err error
	chromedp.Run(rctx, chromedp.Evaluate[chromedp.Void]("location.replace('about:blank')"))
	for {
		href, herr := chromedp.Run(rctx, chromedp.Evaluate[string]("location.href"))
		if herr == nil && href == "about:blank" {
			break
		}
		timer := time.NewTimer(10 * time.Millisecond)
		select {
		case <-timer.C:
			continue
		case <-rctx.Done():
			timer.Stop()
			err = fmt.Errorf("leaving the page: %w", cmpErr(herr, rctx.Err()))
		}
		break
	}
	r.tab.proxy.dropConns()
	return err
}

// blockType reports whether the target never loads resources of type rt.
func (r *pageRender) blockType(rt network.ResourceType) bool {
	return slices.Contains(r.t.Browser.BlockResources, strings.ToLower(string(rt)))
}

// resourceHost reports whether host is one of t's resource hosts.
func resourceHost(t wildwatch.Target, host string) bool {
	for _, h := range t.Browser.ResourceHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}
