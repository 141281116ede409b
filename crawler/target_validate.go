package crawler

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/andybalholm/cascadia"

	"github.com/wildwatch/wildwatch"
)

var (
	targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	hostName   = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)
)

// validate checks a decoded target and reports the first problem at the
// line of the field concerned.
func (p *targetParser) validate(t wildwatch.Target) error {
	for _, check := range []func(wildwatch.Target) error{
		p.checkName,
		p.checkHosts,
		p.checkStart,
		p.checkSelectors,
		p.checkLimits,
		p.checkBrowser,
		p.checkRemoved,
		p.checkBlocked,
		p.checkSchedule,
	} {
		if err := check(t); err != nil {
			return err
		}
	}
	return nil
}

func (p *targetParser) fail(field, format string, args ...any) *TargetError {
	return p.errorf(p.line(field), field, format, args...)
}

func (p *targetParser) checkName(t wildwatch.Target) error {
	switch {
	case t.Name == "":
		return p.fail("name", "required")
	case !targetName.MatchString(t.Name):
		return p.fail("name", "must match %s", targetName)
	}
	return nil
}

func (p *targetParser) checkHosts(t wildwatch.Target) error {
	if len(t.AllowedHosts) == 0 {
		return p.fail("allowed_hosts", "required")
	}
	for i, h := range t.AllowedHosts {
		if _, err := netip.ParseAddr(h); err == nil {
			continue
		}
		if !hostName.MatchString(h) {
			return p.fail(fmt.Sprintf("allowed_hosts[%d]", i), "%q is not a host name (no scheme, port or path)", h)
		}
	}
	return nil
}

func (p *targetParser) checkStart(t wildwatch.Target) error {
	if len(t.StartURLs) == 0 && t.Search == nil {
		return p.fail("start_urls", "at least one start URL or a search is required")
	}
	for i, u := range t.StartURLs {
		if reason := p.urlProblem(t, u); reason != "" {
			return p.fail(fmt.Sprintf("start_urls[%d]", i), "%s", reason)
		}
	}
	s := t.Search
	if s == nil {
		return nil
	}
	switch {
	case s.URLTemplate == "":
		return p.fail("search.url_template", "required")
	case !strings.Contains(s.URLTemplate, "{query}"):
		return p.fail("search.url_template", "must contain {query}")
	}
	if reason := p.urlProblem(t, strings.ReplaceAll(s.URLTemplate, "{query}", "q")); reason != "" {
		return p.fail("search.url_template", "%s", reason)
	}
	if len(s.Queries) == 0 {
		return p.fail("search.queries", "required")
	}
	for i, q := range s.Queries {
		if strings.TrimSpace(q) == "" {
			return p.fail(fmt.Sprintf("search.queries[%d]", i), "empty query")
		}
	}
	return nil
}

// urlProblem says what is wrong with a start URL, or "".
func (p *targetParser) urlProblem(t wildwatch.Target, raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q is not an absolute http(s) URL", raw)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", raw)
	case !hostAllowed(t, u.Hostname()):
		return fmt.Sprintf("host %q is not in allowed_hosts", u.Hostname())
	}
	return ""
}

func (p *targetParser) checkSelectors(t wildwatch.Target) error {
	sel, fs := t.Selectors, t.Selectors.Fields
	if sel.ListingLinks == "" {
		return p.fail("selectors.listing_links", "required")
	}
	if fs.Title == "" {
		return p.fail("selectors.fields.title", "required")
	}
	for _, s := range []struct{ field, sel string }{
		{"selectors.listing_links", sel.ListingLinks},
		{"selectors.next_page", sel.NextPage},
		{"selectors.fields.title", fs.Title},
		{"selectors.fields.description", fs.Description},
		{"selectors.fields.price", fs.Price},
		{"selectors.fields.currency", fs.Currency},
		{"selectors.fields.seller", fs.Seller},
		{"selectors.fields.location", fs.Location},
		{"selectors.fields.images", fs.Images},
		{"selectors.fields.lang", fs.Lang},
	} {
		if s.sel == "" {
			continue
		}
		if _, err := cascadia.Compile(s.sel); err != nil {
			return p.fail(s.field, "bad selector %q: %v", s.sel, err)
		}
	}
	return nil
}

func (p *targetParser) checkLimits(t wildwatch.Target) error {
	l, pol := t.Limits, t.Politeness
	for _, n := range []struct {
		field string
		v     int64
	}{
		{"limits.max_pages", int64(l.MaxPages)},
		{"limits.max_listings", int64(l.MaxListings)},
		{"limits.max_body_bytes", l.MaxBodyBytes},
		{"limits.timeout", int64(l.Timeout)},
		{"limits.max_redirects", int64(l.MaxRedirects)},
		{"politeness.concurrency", int64(pol.Concurrency)},
	} {
		if n.v < 0 {
			return p.fail(n.field, "must not be negative")
		}
	}
	if math.IsNaN(pol.RequestsPerSecond) {
		return p.fail("politeness.requests_per_second", "not a number")
	}
	if i := strings.IndexFunc(t.UserAgent, unicode.IsControl); i >= 0 {
		return p.fail("user_agent", "control character at byte %d", i)
	}
	return nil
}

// Bounds of a browser viewport, in CSS pixels.
const (
	minViewport = 100
	maxViewport = 10000
)

func (p *targetParser) checkBrowser(t wildwatch.Target) error {
	b := t.Browser
	switch t.Render {
	case "", wildwatch.RenderStatic, wildwatch.RenderBrowser, wildwatch.RenderAuto:
	default:
		return p.fail("render", "%q is not static, browser or auto", t.Render)
	}
	switch b.Wait {
	case "", wildwatch.WaitSelector, wildwatch.WaitNetworkIdle, wildwatch.WaitLoad:
	default:
		return p.fail("browser.wait", "%q is not selector, network_idle or load", b.Wait)
	}
	if b.WaitSelector != "" {
		if _, err := cascadia.Compile(b.WaitSelector); err != nil {
			return p.fail("browser.wait_selector", "bad selector %q: %v", b.WaitSelector, err)
		}
	}
	for _, n := range []struct {
		field string
		v     int64
	}{
		{"browser.max_wait", int64(b.MaxWait)},
		{"browser.extra_wait", int64(b.ExtraWait)},
		{"browser.max_scrolls", int64(b.MaxScrolls)},
	} {
		if n.v < 0 {
			return p.fail(n.field, "must not be negative")
		}
	}
	for _, v := range []struct {
		field string
		px    int
	}{
		{"browser.viewport.width", b.Viewport.Width},
		{"browser.viewport.height", b.Viewport.Height},
	} {
		if v.px != 0 && (v.px < minViewport || v.px > maxViewport) {
			return p.fail(v.field, "%d is not between %d and %d pixels", v.px, minViewport, maxViewport)
		}
	}
	for i, r := range b.BlockResources {
		switch r {
		case "media", "font", "image", "stylesheet":
		default:
			return p.fail(fmt.Sprintf("browser.block_resources[%d]", i), "%q is not media, font, image or stylesheet", r)
		}
	}
	for i, h := range b.ResourceHosts {
		if _, err := netip.ParseAddr(h); err == nil {
			continue
		}
		if !hostName.MatchString(h) {
			return p.fail(fmt.Sprintf("browser.resource_hosts[%d]", i), "%q is not a host name (no scheme, port or path)", h)
		}
	}
	for i, rp := range b.RenderPaths {
		if !strings.HasPrefix(rp, "/") {
			return p.fail(fmt.Sprintf("browser.render_paths[%d]", i), "%q is not a path starting with /", rp)
		}
	}
	return nil
}
