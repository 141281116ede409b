package crawler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Why a tab failed.
const (
	reasonCrashed     = "tab crashed"
	reasonHung        = "tab hung"
	reasonGone        = "tab closed"
	reasonBrowserLost = "browser lost"
)

// mainDoc is the main document's final response as the server sent it.
type mainDoc struct {
	lastURL   string // the last hop asked for
	url       string
	status    int
	header    http.Header
	body      []byte
	fetchedAt time.Time
	sent      http.Header // the request header, as sent when known
	proto     string
	hops      int
	refused   error // why the main document was not let through
}

// netTracker follows one attempt's requests: it decides on every request
// the page makes (Fetch domain), keeps the main document's response,
// counts requests in flight for network_idle and holds the politeness
// slots of requests in flight.
type netTracker struct {
	r   *pageRender
	ctx context.Context
	wg  sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	inflight   map[network.RequestID]bool
	quietSince time.Time
	changed    chan struct{} // closed and replaced when inflight changes
	slots      map[network.RequestID]func()
	extra      map[network.RequestID]http.Header // request headers as sent
	blocked    map[string]int
	blockedOn  map[string]bool // hosts refused
	failed     map[string]int
	mainID     network.RequestID
	main       mainDoc
	mainDone   chan struct{} // closed when main is final
	mainClosed bool
	loaded     chan struct{}
	loadedSeen bool
}

func newNetTracker(r *pageRender, ctx context.Context) *netTracker {
	return &netTracker{
		r:          r,
		ctx:        ctx,
		inflight:   make(map[network.RequestID]bool),
		quietSince: time.Now(),
		changed:    make(chan struct{}),
		slots:      make(map[network.RequestID]func()),
		extra:      make(map[network.RequestID]http.Header),
		blocked:    make(map[string]int),
		blockedOn:  make(map[string]bool),
		failed:     make(map[string]int),
		mainDone:   make(chan struct{}),
		loaded:     make(chan struct{}),
	}
}

// onEvent runs in the tab's event loop: it must not block or send
// commands, so paused requests are handled in goroutines.
func (n *netTracker) onEvent(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	switch ev := ev.(type) {
	case *fetch.EventRequestPaused:
		n.wg.Add(1)
		go n.paused(ev)
	case *network.EventRequestWillBeSent:
		n.start(ev.RequestID)
		if n.mainID == "" && ev.Type == network.ResourceTypeDocument && ev.FrameID == n.r.tab.frame {
			n.mainID = ev.RequestID
		}
		if ev.RequestID == n.mainID && ev.Request != nil {
			n.main.sent = headerOf(ev.Request.Headers)
		}
	case *network.EventRequestWillBeSentExtraInfo:
		// It may come before or after requestWillBeSent; the latest hop's
		// wins.
		n.extra[ev.RequestID] = headerOf(ev.Headers)
	case *network.EventResponseReceived:
		if ev.RequestID == n.mainID && ev.Response != nil {
			n.main.proto = protoName(ev.Response.Protocol)
		}
	case *network.EventLoadingFinished:
		n.end(ev.RequestID)
	case *network.EventLoadingFailed:
		n.end(ev.RequestID)
		if !ev.Canceled && ev.RequestID != n.mainID && !strings.HasPrefix(ev.ErrorText, "net::ERR_BLOCKED_BY_CLIENT") {
			n.failed[ev.ErrorText]++
		}
	case *cdppage.EventLoadEventFired:
		if !n.loadedSeen {
			n.loadedSeen = true
			close(n.loaded)
		}
	case *inspector.EventTargetCrashed:
		go n.r.fail(&tabFailure{reason: reasonCrashed})
	}
}

func (n *netTracker) start(id network.RequestID) {
	if !n.inflight[id] {
		n.inflight[id] = true
		n.signal()
	}
}

func (n *netTracker) end(id network.RequestID) {
	if release, ok := n.slots[id]; ok {
		release()
		delete(n.slots, id)
	}
	if n.inflight[id] {
		delete(n.inflight, id)
		if len(n.inflight) == 0 {
			n.quietSince = time.Now()
		}
		n.signal()
	}
}

func (n *netTracker) signal() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// touch restarts the quiet period, as after a scroll that may start
// requests a moment later.
func (n *netTracker) touch() {
	n.mu.Lock()
	if len(n.inflight) == 0 {
		n.quietSince = time.Now()
	}
	n.mu.Unlock()
}

// paused decides on one paused request.
func (n *netTracker) paused(ev *fetch.EventRequestPaused) {
	defer n.wg.Done()
	if ev.ResponseStatusCode != 0 || ev.ResponseErrorReason != "" {
		n.mainResponse(ev)
		return
	}
	u, err := url.Parse(ev.Request.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		n.cont(ev, false)
		return
	}
	t := n.r.t
	host := u.Hostname()
	isMain := ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == n.r.tab.frame
	n.mu.Lock()
	if isMain && n.mainID != "" && n.mainID != ev.NetworkID {
		isMain = false // a later navigation of the page: a request like any other
	}
	var refuse string
	if isMain {
		n.mainID = ev.NetworkID
		n.main.hops++
		n.main.lastURL = ev.Request.URL
		switch {
		case n.main.hops > t.Limits.MaxRedirects+1:
			n.main.refused = fmt.Errorf("%w: more than %d", ErrTooManyRedirects, t.Limits.MaxRedirects)
			refuse = "main document"
		case !hostAllowed(t, host):
			n.main.refused = fmt.Errorf("redirect to %s: %w", u.Host, ErrHostNotAllowed)
			refuse = "main document"
		}
	} else if ev.ResourceType == network.ResourceTypeOther && u.Path == "/favicon.ico" {
		// The browser's own fetch of the site icon: nothing the evidence
		// needs, and a request the site did not ask for.
		refuse = "favicon"
	} else if n.r.blockType(ev.ResourceType) {
		refuse = "resource type " + strings.ToLower(string(ev.ResourceType))
	} else if !hostAllowed(t, host) && !resourceHost(t, host) {
		refuse = "host not in allowed_hosts or resource_hosts"
		n.blockedOn[strings.ToLower(host)] = true
	} else if n.r.tr.checkLiteral(u) != nil {
		// A literal address the guard refuses: failed here, and counted,
		// rather than dropped by the proxy.
		refuse = reasonGuard
	}
	if refuse != "" {
		n.blocked[refuse]++
		n.mu.Unlock()
		n.call(func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{
				RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient,
			})
			return err
		})
		return
	}
	// A redirect hop: the previous hop's slot is free again.
	if release, ok := n.slots[ev.NetworkID]; ok {
		release()
		delete(n.slots, ev.NetworkID)
	}
	n.mu.Unlock()

	f := n.r.b.f
	rule := n.r.rule
	if isMain || robotsChecked(ev.ResourceType) {
		// Every hop of the main document obeys robots.txt, as Fetch's
		// redirects do, and so does every request the page makes for
		// more than its looks, on its own host or another.
		rules, err := f.checkRobots(n.ctx, n.r.tr, u)
		if err != nil {
			reason := reasonRobots
			if !errors.Is(err, ErrRobots) {
				reason = reasonRobotsUnknown
			}
			n.refuse(ev, isMain, err, reason)
			return
		}
		rule = rules.limit(t.UserAgent, rule)
	} else if t.ObeysRobots() {
		rule = f.knownRobots(origin(u)).limit(t.UserAgent, rule)
	}
	release, err := f.acquire(n.ctx, strings.ToLower(u.Host), rule)
	if err != nil {
		if n.ctx.Err() != nil {
			return // the attempt is over
		}
		n.refuse(ev, isMain, err, "host backing off")
		return
	}
	if err := f.takeRequest(n.ctx, t); err != nil {
		release()
		n.refuse(ev, isMain, err, "daily request cap spent")
		return
	}
	n.mu.Lock()
	if ev.NetworkID != "" && !n.closed {
		n.slots[ev.NetworkID] = release
		release = func() {}
	}
	n.mu.Unlock()
	n.cont(ev, isMain)
	release()
}

// Reasons a request of a rendered page was refused, as counted in the
// capture's warnings.
const (
	reasonGuard         = "address guard"
	reasonRobots        = "robots.txt"
	reasonRobotsUnknown = "robots.txt unavailable"
)

// robotsChecked reports whether a request of type rt that a rendered page
// makes is checked against robots.txt: documents (frames), XHR and fetch,
// scripts, event streams, web sockets, beacons and the rest are. Images,
// style sheets, fonts and media are not: they are how the page looks to
// the person the evidence is for, read nothing the listing is extracted
// from, and are fetched as a visitor's browser fetches them, the way
// search engines' renderers treat a page's presentation as part of the
// page they may fetch. Many sites disallow their asset folders only to
// keep them out of image search; obeying that here would only leave holes
// in the screenshot kept as evidence. The address guard, allowed hosts,
// daily cap and politeness limiter apply to them all the same.
func robotsChecked(rt network.ResourceType) bool {
	switch rt {
	case network.ResourceTypeImage, network.ResourceTypeStylesheet, network.ResourceTypeFont, network.ResourceTypeMedia:
		return false
	}
	return true
}

// refuse fails a paused request that may not be sent, for reason; for the
// main document, err is why the page was not loaded.
func (n *netTracker) refuse(ev *fetch.EventRequestPaused, isMain bool, err error, reason string) {
	n.mu.Lock()
	if isMain {
		n.main.refused = err
		reason = "main document"
	}
	n.blocked[reason]++
	n.mu.Unlock()
	n.call(func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{
			RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient,
		})
		return err
	})
}

// cont lets a paused request go on; the main document is paused again
// when its response arrives.
func (n *netTracker) cont(ev *fetch.EventRequestPaused, interceptResponse bool) {
	p := fetch.ContinueRequestParams{RequestID: ev.RequestID}
	if interceptResponse {
		p.InterceptResponse = &interceptResponse
	}
	n.call(func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, fetch.ContinueRequest, p)
		return err
	})
}

// mainResponse keeps the main document's response: headers and status as
// received, the body read whole before the page sees it.
func (n *netTracker) mainResponse(ev *fetch.EventRequestPaused) {
	status := int(ev.ResponseStatusCode)
	header := make(http.Header)
	for _, e := range ev.ResponseHeaders {
		header.Add(e.Name, e.Value)
	}
	if ev.ResponseErrorReason != "" || (status >= 300 && status < 400 && header.Get("Location") != "") {
		n.cont(ev, false)
		return
	}
	var body []byte
	n.call(func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: ev.RequestID})
		body = res.Body
		return err
	})
	if header.Get("Content-Encoding") != "" {
		// The browser hands the body over decoded, as net/http does for
		// static fetches; the header says what was received after that.
		header.Del("Content-Encoding")
		header.Del("Content-Length")
	}
	n.mu.Lock()
	n.main.url = ev.Request.URL
	n.main.status = status
	n.main.header = header
	n.main.body = body
	n.main.fetchedAt = time.Now().UTC()
	if !n.mainClosed {
		n.mainClosed = true
		close(n.mainDone)
	}
	n.mu.Unlock()
	n.cont(ev, false)
}

// call runs a command of the interception, bounded by the target's request
// timeout; a failure means the attempt is ending or the tab is gone, which
// the attempt notices by itself.
func (n *netTracker) call(fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(n.ctx, time.Duration(n.r.t.Limits.Timeout))
	defer cancel()
	if err := fn(ctx); err != nil && n.ctx.Err() == nil {
		n.r.b.log.Debug("interception command failed", "url", n.r.job.raw, "err", err)
	}
}

// waitIdle waits until no request has been in flight for quiet.
func (n *netTracker) waitIdle(ctx context.Context, quiet time.Duration) error {
	for {
		n.mu.Lock()
		busy := len(n.inflight) > 0
		left := quiet - time.Since(n.quietSince)
		changed := n.changed
		n.mu.Unlock()
		if !busy && left <= 0 {
			return nil
		}
		var timeout <-chan time.Time
		if !busy {
			timer := time.NewTimer(left)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case <-changed:
		case <-timeout:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (n *netTracker) inFlight() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.inflight)
}

// document returns the main document once its response is known.
func (n *netTracker) document() mainDoc {
	n.mu.Lock()
	defer n.mu.Unlock()
	doc := n.main
	if h, ok := n.extra[n.mainID]; ok && len(h) > 0 {
		doc.sent = h
	}
	return doc
}

// finish stops the tracker, waits for its goroutines and releases every
// politeness slot still held.
func (n *netTracker) finish() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.wg.Wait()
	n.mu.Lock()
	for id, release := range n.slots {
		release()
		delete(n.slots, id)
	}
	n.mu.Unlock()
}

// warnings says what was blocked and what failed, counted per reason.
func (n *netTracker) warnings() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, reason := range slices.Sorted(maps.Keys(n.blocked)) {
		if reason == "main document" || reason == "favicon" {
			continue
		}
		w := fmt.Sprintf("blocked %s: %s", requests(n.blocked[reason]), reason)
		if strings.HasPrefix(reason, "host") {
			hosts := slices.Sorted(maps.Keys(n.blockedOn))
			if len(hosts) > 3 {
				hosts = append(hosts[:3], fmt.Sprintf("%d more", len(hosts)-3))
			}
			w += " (" + strings.Join(hosts, ", ") + ")"
		}
		out = append(out, w)
	}
	for _, text := range slices.Sorted(maps.Keys(n.failed)) {
		out = append(out, fmt.Sprintf("%s failed: %s", requests(n.failed[text]), text))
	}
	return out
}

func requests(n int) string {
	if n == 1 {
		return "1 request"
	}
	return fmt.Sprintf("%d requests", n)
}

// headerOf turns the protocol's headers, several values joined by
// newlines, into an http.Header.
func headerOf(h network.Headers) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		if strings.HasPrefix(k, ":") {
			continue // HTTP/2 pseudo-headers
		}
		s, ok := v.(string)
		if !ok {
			s = fmt.Sprint(v)
		}
		for _, line := range strings.Split(s, "\n") {
			out.Add(k, line)
		}
	}
	return out
}

// protoName spells a protocol the way net/http does.
func protoName(p string) string {
	switch strings.ToLower(p) {
	case "http/1.0":
		return "HTTP/1.0"
	case "http/1.1":
		return "HTTP/1.1"
	case "h2":
		return "HTTP/2.0"
	case "h3":
		return "HTTP/3.0"
	}
	return p
}
