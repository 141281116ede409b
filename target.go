package wildwatch

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Target describes one platform to sweep: where to start, how to find
// listings on index pages, how to read a listing's fields and how politely
// to do it. Targets are written as YAML documents (see crawler.ParseTarget)
// and stored in the catalog under their Name.
type Target struct {
	// Name identifies the target; lower case letters, digits, '-' and '_'.
	Name string `yaml:"name" json:"name"`
	// Platform is a human label for the marketplace; defaults to the host of
	// the first start URL.
	Platform string `yaml:"platform,omitempty" json:"platform,omitempty"`
	// AllowedHosts lists the host names the crawler may fetch from. Links to
	// other hosts are ignored.
	AllowedHosts []string `yaml:"allowed_hosts" json:"allowed_hosts"`
	// StartURLs are index pages (search or category pages) to begin with.
	StartURLs []string `yaml:"start_urls,omitempty" json:"start_urls,omitempty"`
	// Search fills a URL template with each query term; its URLs are added to
	// StartURLs.
	Search *Search `yaml:"search,omitempty" json:"search,omitempty"`
	// Selectors are CSS selectors for links and listing fields.
	Selectors Selectors `yaml:"selectors" json:"selectors"`
	// Limits bound one sweep.
	Limits Limits `yaml:"limits,omitempty" json:"limits,omitempty"`
	// Politeness bounds how hard the crawler works a host.
	Politeness Politeness `yaml:"politeness,omitempty" json:"politeness,omitempty"`
	// UserAgent overrides the default User-Agent, which identifies wildwatch.
	UserAgent string `yaml:"user_agent,omitempty" json:"user_agent,omitempty"`
	// Render says how pages are fetched: RenderStatic, RenderBrowser or
	// RenderAuto (default).
	Render string `yaml:"render,omitempty" json:"render,omitempty"`
	// Browser configures rendering in headless Chrome.
	Browser BrowserSettings `yaml:"browser,omitempty" json:"browser,omitempty"`
	// Removed tells the page of a removed listing from a live one. A
	// listing captured before that answers 404 or 410 is removed whatever
	// this says; nil means DefaultRemovedText on pages where the title
	// selector finds nothing.
	Removed *RemovedPage `yaml:"removed,omitempty" json:"removed,omitempty"`
	// Schedule starts sweeps of the target by itself; nil means sweeps
	// are started by hand only.
	Schedule *Schedule `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// Revisit is how long a listing's last capture stands: a listing
	// captured less than Revisit ago is fetched again (conditionally, when
	// its last answer carried an ETag or Last-Modified) but captured again
	// only when its content changed. Zero captures every listing on every
	// sweep.
	Revisit Interval `yaml:"revisit,omitempty" json:"revisit,omitempty"`
	// Webhook is told when a sweep of the target ends having raised flags;
	// nil leaves it to the daemon's global webhook, if any.
	Webhook *Webhook `yaml:"webhook,omitempty" json:"webhook,omitempty"`
}

// RemovedPage describes the page a marketplace shows, with a 2xx status, in
// place of a listing that was taken down.
type RemovedPage struct {
	// Text are phrases any one of which marks the page as a removal page,
	// matched without regard to case or runs of white space. Empty means
	// DefaultRemovedText, unless Selector is set.
	Text []string `yaml:"text,omitempty" json:"text,omitempty"`
	// Selector, when set, is a CSS selector: the page is a removal page when
	// an element it selects is present and, if Text is set, holds one of the
	// phrases. When empty, the phrases are looked for in the text of the
	// whole page, and only on pages where the title selector finds nothing.
	Selector string `yaml:"selector,omitempty" json:"selector,omitempty"`
}

// DefaultRemovedText are the phrases that mark a removal page when a target
// says nothing else. They are looked for only on pages that show no listing
// title.
var DefaultRemovedText = []string{
	"listing has been removed",
	"listing was removed",
	"listing is no longer available",
	"listing no longer exists",
	"item has been removed",
	"item was removed",
	"item is no longer available",
	"this listing has ended",
	"has been taken down",
	"no longer available",
}

// Render modes of a target.
const (
	// RenderStatic fetches pages over plain HTTP only.
	RenderStatic = "static"
	// RenderBrowser renders every page in headless Chrome.
	RenderBrowser = "browser"
	// RenderAuto fetches statically first and renders a page when the
	// target's selectors find nothing in it, or when its path is one of
	// Browser.RenderPaths.
	RenderAuto = "auto"
)

// Wait conditions for rendered pages.
const (
	// WaitSelector waits for Browser.WaitSelector, or by default for the
	// page kind's own selector (listing links on index pages, the title on
	// listing pages).
	WaitSelector = "selector"
	// WaitNetworkIdle waits until no request has been in flight for 500ms.
	WaitNetworkIdle = "network_idle"
	// WaitLoad waits for the load event.
	WaitLoad = "load"
)

// BrowserSettings configure how a target's pages are rendered. Zero means
// the default.
type BrowserSettings struct {
	// Wait is WaitSelector (default), WaitNetworkIdle or WaitLoad.
	Wait string `yaml:"wait,omitempty" json:"wait,omitempty"`
	// WaitSelector overrides the selector waited for.
	WaitSelector string `yaml:"wait_selector,omitempty" json:"wait_selector,omitempty"`
	// MaxWait bounds the wait (default 10s); a page still waiting then is
	// captured as it is, with a warning.
	MaxWait Duration `yaml:"max_wait,omitempty" json:"max_wait,omitempty"`
	// ExtraWait is extra time after the wait for lazy content (default 0).
	ExtraWait Duration `yaml:"extra_wait,omitempty" json:"extra_wait,omitempty"`
	// Scroll scrolls to the bottom, again and again while the page grows
	// (infinite scroll, lazy images), up to MaxScrolls times (default 10).
	Scroll     bool `yaml:"scroll,omitempty" json:"scroll,omitempty"`
	MaxScrolls int  `yaml:"max_scrolls,omitempty" json:"max_scrolls,omitempty"`
	// Viewport is the window size (default 1280×800).
	Viewport Viewport `yaml:"viewport,omitempty" json:"viewport,omitempty"`
	// BlockResources are resource types never loaded: "media", "font",
	// "image", "stylesheet" (default media and font).
	BlockResources []string `yaml:"block_resources,omitempty" json:"block_resources,omitempty"`
	// ResourceHosts are hosts beyond AllowedHosts that pages may load
	// resources (scripts, images, styles) from, such as a CDN.
	ResourceHosts []string `yaml:"resource_hosts,omitempty" json:"resource_hosts,omitempty"`
	// RenderPaths are URL path prefixes that need the browser: in auto
	// mode they are rendered without a static try.
	RenderPaths []string `yaml:"render_paths,omitempty" json:"render_paths,omitempty"`
}

// Viewport is a browser window size in CSS pixels.
type Viewport struct {
	Width  int `yaml:"width,omitempty" json:"width,omitempty"`
	Height int `yaml:"height,omitempty" json:"height,omitempty"`
}

// Search builds index URLs from a template and a list of query terms.
type Search struct {
	// URLTemplate contains {query}, replaced by each query URL-escaped.
	URLTemplate string `yaml:"url_template" json:"url_template"`
	// Queries are the terms to search for.
	Queries []string `yaml:"queries" json:"queries"`
}

// Selectors are the CSS selectors that read a target's pages.
type Selectors struct {
	// ListingLinks selects <a> elements on index pages that lead to listings.
	ListingLinks string `yaml:"listing_links" json:"listing_links"`
	// NextPage selects the <a> element that leads to the next index page.
	NextPage string `yaml:"next_page,omitempty" json:"next_page,omitempty"`
	// Fields selects each listing field on a listing page.
	Fields FieldSelectors `yaml:"fields" json:"fields"`
}

// FieldSelectors are the CSS selectors for each listing field. A selector
// reads the text of the first element it matches; Images reads the src of
// every element it matches.
type FieldSelectors struct {
	Title       string `yaml:"title" json:"title"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	Price       string `yaml:"price,omitempty" json:"price,omitempty"`
	Currency    string `yaml:"currency,omitempty" json:"currency,omitempty"`
	Seller      string `yaml:"seller,omitempty" json:"seller,omitempty"`
	Location    string `yaml:"location,omitempty" json:"location,omitempty"`
	Images      string `yaml:"images,omitempty" json:"images,omitempty"`
	// Lang selects an element whose lang attribute (or text) names the
	// listing's language; when empty the page's <html lang> is used.
	Lang string `yaml:"lang,omitempty" json:"lang,omitempty"`
}

// Limits bound one sweep of a target. Zero means the default.
type Limits struct {
	// MaxPages bounds the index pages fetched per start URL (default 50).
	MaxPages int `yaml:"max_pages,omitempty" json:"max_pages,omitempty"`
	// MaxListings bounds the listings captured per sweep (default 1000).
	MaxListings int `yaml:"max_listings,omitempty" json:"max_listings,omitempty"`
	// MaxBodyBytes bounds one response body (default 10 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes,omitempty" json:"max_body_bytes,omitempty"`
	// Timeout bounds one request, redirects included (default 30s).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxRedirects bounds the redirects followed for one request (default 5).
	MaxRedirects int `yaml:"max_redirects,omitempty" json:"max_redirects,omitempty"`
}

// Politeness bounds how hard the crawler works one host. Zero means the
// default.
type Politeness struct {
	// RequestsPerSecond per host (default 1). Negative lifts the limit.
	RequestsPerSecond float64 `yaml:"requests_per_second,omitempty" json:"requests_per_second,omitempty"`
	// Concurrency is the number of requests in flight per host (default 2).
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// ObeyRobots makes the crawler obey robots.txt (default true).
	ObeyRobots *bool `yaml:"obey_robots,omitempty" json:"obey_robots,omitempty"`
	// AllowPrivate lets the crawler connect to private, loopback and
	// link-local addresses (default false). Only for test and demo targets.
	AllowPrivate bool `yaml:"allow_private_addresses,omitempty" json:"allow_private_addresses,omitempty"`
	// DailyRequests caps the requests made for the target per UTC day, in
	// every worker together: pages, redirects, robots.txt and the requests
	// of rendered pages (default 0, no cap).
	DailyRequests int `yaml:"daily_requests,omitempty" json:"daily_requests,omitempty"`
	// Blocked describes the target's own block or CAPTCHA page, looked for
	// beside DefaultBlockedPages; nil means the defaults alone.
	Blocked *BlockedPage `yaml:"blocked,omitempty" json:"blocked,omitempty"`
}

// Defaults for Target fields left zero.
const (
	DefaultMaxPages          = 50
	DefaultMaxListings       = 1000
	DefaultMaxBodyBytes      = 10 << 20
	DefaultTimeout           = 30 * time.Second
	DefaultMaxRedirects      = 5
	DefaultRequestsPerSecond = 1
	DefaultConcurrency       = 2
	DefaultUserAgent         = "wildwatch/1 (+https://wildwatch.example/bot; wildlife-trafficking monitoring)"
	DefaultMaxWait           = 10 * time.Second
	DefaultMaxScrolls        = 10
	DefaultViewportWidth     = 1280
	DefaultViewportHeight    = 800
)

// DefaultBlockResources are the resource types a rendered page never loads.
var DefaultBlockResources = []string{"media", "font"}

// WithDefaults returns a copy of t with zero fields set to their defaults.
func (t Target) WithDefaults() Target {
	if t.Limits.MaxPages == 0 {
		t.Limits.MaxPages = DefaultMaxPages
	}
	if t.Limits.MaxListings == 0 {
		t.Limits.MaxListings = DefaultMaxListings
	}
	if t.Limits.MaxBodyBytes == 0 {
		t.Limits.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if t.Limits.Timeout == 0 {
		t.Limits.Timeout = Duration(DefaultTimeout)
	}
	if t.Limits.MaxRedirects == 0 {
		t.Limits.MaxRedirects = DefaultMaxRedirects
	}
	if t.Politeness.RequestsPerSecond == 0 {
		t.Politeness.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if t.Politeness.Concurrency == 0 {
		t.Politeness.Concurrency = DefaultConcurrency
	}
	if t.Politeness.ObeyRobots == nil {
		yes := true
		t.Politeness.ObeyRobots = &yes
	}
	if t.UserAgent == "" {
		t.UserAgent = DefaultUserAgent
	}
	if t.Render == "" {
		t.Render = RenderAuto
	}
	b := &t.Browser
	if b.Wait == "" {
		b.Wait = WaitSelector
	}
	if b.MaxWait == 0 {
		b.MaxWait = Duration(DefaultMaxWait)
	}
	if b.Scroll && b.MaxScrolls == 0 {
		b.MaxScrolls = DefaultMaxScrolls
	}
	if b.Viewport.Width == 0 {
		b.Viewport.Width = DefaultViewportWidth
	}
	if b.Viewport.Height == 0 {
		b.Viewport.Height = DefaultViewportHeight
	}
	if b.BlockResources == nil {
		b.BlockResources = append([]string(nil), DefaultBlockResources...)
	}
	return t
}

// ObeysRobots reports whether robots.txt is obeyed (true unless turned off).
func (t Target) ObeysRobots() bool {
	return t.Politeness.ObeyRobots == nil || *t.Politeness.ObeyRobots
}

// IndexURLs returns the start URLs followed by the search URLs built from
// the template and queries.
func (t Target) IndexURLs() []string {
	urls := append([]string(nil), t.StartURLs...)
	if t.Search != nil {
		for _, q := range t.Search.Queries {
			urls = append(urls, strings.ReplaceAll(t.Search.URLTemplate, "{query}", url.QueryEscape(q)))
		}
	}
	return urls
}

// Duration is a time.Duration that reads and writes as text ("30s", "2m").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}
