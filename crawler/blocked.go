package crawler

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"

	"github.com/wildwatch/wildwatch"
)

// BlockedBackoff is how long a host that answered with a block page is
// left alone, in every process sharing the limiter, and how long the fetch
// that got it waits before it is tried again (longer if the host's
// Retry-After says so).
const BlockedBackoff = 5 * time.Minute

// blockRule is a wildwatch.BlockedPage made ready for matching.
type blockRule struct {
	status []int
	// sels are the parts of the selector, each reported by itself.
	sels []cascadia.Sel
	// text are the phrases, collapsed and in lower case; phrases keeps
	// them as written, for reasons.
	text, phrases []string
	// hints, when not nil, are strings one of which the page's HTML in
	// lower case holds if a marker can be there: pages without any are
	// not parsed. nil means the page is always parsed.
	hints []string
}

type blockRules []blockRule

// defaultBlockRules are DefaultBlockedPages compiled, once.
var defaultBlockRules = sync.OnceValue(func() blockRules {
	var rs blockRules
	for _, b := range wildwatch.DefaultBlockedPages {
		if r, ok := compileBlockRule(b); ok {
			rs = append(rs, r)
		}
	}
	return rs
})

// blockRulesFor returns the block pages looked for on t's pages: its own
// description, then the defaults unless it leaves them out.
func blockRulesFor(t wildwatch.Target) blockRules {
	b := t.Politeness.Blocked
	if b == nil {
		return defaultBlockRules()
	}
	var rs blockRules
	if r, ok := compileBlockRule(*b); ok {
		rs = append(rs, r)
	}
	if !b.NoDefaults {
		rs = append(rs, defaultBlockRules()...)
	}
	return rs
}

// compileBlockRule prepares b; ok is false when b describes nothing (no
// status and no marker). A selector that does not compile (ParseTarget
// refuses it) matches nothing.
func compileBlockRule(b wildwatch.BlockedPage) (r blockRule, ok bool) {
	r.status = slices.Clone(b.Status)
	markers := false
	if strings.TrimSpace(b.Selector) != "" {
		markers = true
		if g, err := cascadia.ParseGroup(b.Selector); err == nil {
			r.sels = g
		}
	}
	for _, p := range b.Text {
		if n := strings.ToLower(collapse(p)); n != "" {
			markers = true
			r.text = append(r.text, n)
			r.phrases = append(r.phrases, p)
		}
	}
	if !markers {
		return r, len(r.status) > 0
	}
	r.hints = blockHints(r)
	return r, true
}

var (
	// asciiWord is a run of letters and digits a phrase's HTML holds as
	// written, whatever entities stand for the letters around it.
	asciiWord = regexp.MustCompile(`[a-z0-9]+`)
	// cssEscape is a backslash before a character that stands for itself.
	cssEscape = regexp.MustCompile(`\\([^0-9a-fA-F\n])`)
	// selectorToken is an id, a class or an attribute value that the HTML
	// of an element a selector matches holds.
	selectorToken = regexp.MustCompile(`#([-_a-zA-Z0-9]+)|\.([-_a-zA-Z0-9]+)|\[[-_a-zA-Z0-9]+[~|^$*]?="([^"\\]*)"`)
)

// blockHints returns, for each marker of r, one string that a page showing
// the marker holds; nil when a marker has none to give.
func blockHints(r blockRule) []string {
	var hints []string
	for _, p := range r.text {
		w := longest(asciiWord.FindAllString(p, -1))
		if len(w) < 3 {
			return nil
		}
		hints = append(hints, w)
	}
	for _, s := range r.sels {
		src := cssEscape.ReplaceAllString(s.String(), "$1")
		if strings.ContainsAny(src, `:\`) || strings.Contains(src, "!=") {
			return nil
		}
		var tokens []string
		for _, m := range selectorToken.FindAllStringSubmatch(src, -1) {
			tokens = append(tokens, strings.ToLower(m[1]+m[2]+m[3]))
		}
		w := longest(tokens)
		if len(w) < 3 {
			return nil
		}
		hints = append(hints, w)
	}
	return hints
}

func longest(words []string) string {
	var w string
	for _, s := range words {
		if len(s) > len(w) {
			w = s
		}
	}
	return w
}

// match says why a page with this status and HTML (empty for a body that
// is not text) is a block page, or "" when it is not one.
func (rs blockRules) match(status int, pageHTML string) string {
	var lower, text string
	var doc *goquery.Document
	for _, r := range rs {
		if len(r.status) > 0 && !slices.Contains(r.status, status) {
			continue
		}
		if len(r.sels) == 0 && len(r.text) == 0 {
			return fmt.Sprintf("status %d", status)
		}
		if pageHTML == "" {
			continue
		}
		if r.hints != nil {
			if lower == "" {
				lower = strings.ToLower(pageHTML)
			}
			if !slices.ContainsFunc(r.hints, func(h string) bool { return strings.Contains(lower, h) }) {
				continue
			}
		}
		if doc == nil {
			var err error
			if doc, err = goquery.NewDocumentFromReader(strings.NewReader(pageHTML)); err != nil {
				return ""
			}
			text = strings.ToLower(collapse(visibleText(doc)))
		}
		for _, s := range r.sels {
			if slices.ContainsFunc(doc.Nodes, func(n *html.Node) bool { return cascadia.Query(n, s) != nil }) {
				return fmt.Sprintf("status %d, page has %s", status, s.String())
			}
		}
		for i, p := range r.text {
			if strings.Contains(text, p) {
				return fmt.Sprintf("status %d, page says %q", status, r.phrases[i])
			}
		}
	}
	return ""
}

// visibleText is the text of a document without its scripts, styles and
// templates.
func visibleText(doc *goquery.Document) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
			b.WriteByte(' ')
			return
		case n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style" || n.Data == "template"):
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range doc.Nodes {
		walk(n)
	}
	return b.String()
}

// blockReason says why capture c of a page for t is a block page, or "".
// The rendered DOM is looked at as well as the bytes the server sent.
func blockReason(rs blockRules, c *wildwatch.Capture) string {
	if c == nil {
		return ""
	}
	if reason := rs.match(c.Status, pageHTML(c)); reason != "" {
		return reason
	}
	if c.Rendered != nil && len(c.Rendered.DOM) > 0 {
		return rs.match(c.Status, string(c.Rendered.DOM))
	}
	return ""
}

// pageHTML is the text of c's body for looking for markers, or "" for a
// body that is not text.
func pageHTML(c *wildwatch.Capture) string {
	if !isText(c.Header.Get("Content-Type")) {
		return ""
	}
	if c.Text != "" {
		return c.Text
	}
	return string(c.Body)
}

// IsBlocked says why c, a page fetched or rendered for t, is a block or
// CAPTCHA page (see wildwatch.BlockedPage), or "" when it is not one.
// Fetch and Render already fail with ErrKindBlocked on such pages.
func IsBlocked(t wildwatch.Target, c *wildwatch.Capture) string {
	return blockReason(blockRulesFor(t), c)
}

// blocked turns a block page into its error, after holding its host back
// in every process sharing the limiter.
func (f *Fetcher) blocked(ctx context.Context, rawURL string, c *wildwatch.Capture, reason string) *FetchError {
	host := ""
	if u, err := url.Parse(cmp.Or(c.FinalURL, rawURL)); err == nil {
		host = strings.ToLower(u.Host)
	}
	wait := max(retryAfter(c.Header.Get("Retry-After"), time.Now()), BlockedBackoff)
	if b, ok := f.limiter.(Backoffer); ok && host != "" {
		// A failed backoff leaves the retry delay to space the next try.
		_ = b.Backoff(context.WithoutCancel(ctx), host, min(wait, MaxBackoff))
	}
	f.log.InfoContext(ctx, "block page", "target", c.Target, "url", rawURL, "status", c.Status, "reason", reason)
	return &FetchError{
		Kind:       wildwatch.ErrKindBlocked,
		URL:        rawURL,
		Status:     c.Status,
		Retryable:  true,
		RetryAfter: wait,
		Err:        fmt.Errorf("block page: %s", reason),
	}
}

// checkBlocked checks the block page settings: statuses that are HTTP
// statuses, a selector that compiles, phrases that are not blank, and a
// daily cap that is not negative.
func (p *targetParser) checkBlocked(t wildwatch.Target) error {
	if t.Politeness.DailyRequests < 0 {
		return p.fail("politeness.daily_requests", "must not be negative")
	}
	b := t.Politeness.Blocked
	if b == nil {
		return nil
	}
	for i, s := range b.Status {
		if s < 100 || s > 599 {
			return p.fail(fmt.Sprintf("politeness.blocked.status[%d]", i), "%d is not an HTTP status", s)
		}
	}
	if b.Selector != "" {
		if _, err := cascadia.Compile(b.Selector); err != nil {
			return p.fail("politeness.blocked.selector", "bad selector %q: %v", b.Selector, err)
		}
	}
	for i, s := range b.Text {
		if strings.TrimSpace(s) == "" {
			return p.fail(fmt.Sprintf("politeness.blocked.text[%d]", i), "empty phrase")
		}
	}
	if len(b.Status) == 0 && b.Selector == "" && len(b.Text) == 0 && !b.NoDefaults {
		return p.fail("politeness.blocked", "give status, text or selector")
	}
	return nil
}
