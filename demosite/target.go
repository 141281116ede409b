package demosite

import (
	"bytes"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// DefaultBaseURL is where deploy/examples/demo-target.yaml expects the site.
const DefaultBaseURL = "http://127.0.0.1:8090"

// searchQueries are the searches the demo target runs besides the "all"
// category. Their results overlap with it and with each other.
var searchQueries = []string{"ivory", "象牙", "tiger"}

// targetTmpl is deploy/examples/demo-target.yaml with the base URL and the
// allowed hosts left open. A test keeps the file equal to
// TargetYAML(DefaultBaseURL).
var targetTmpl = template.Must(template.New("target").Parse(`# The target for wildwatch's bundled demo marketplace (package demosite).
# It is generated: demosite.TargetYAML returns it for the site at any
# address, and "go test ./demosite -update" rewrites this file from it.

# name identifies the target in the catalog (lower case, digits, - and _).
name: demo
# platform is the human label for the marketplace.
platform: demo-market
# allowed_hosts are the host names (without port) the crawler may fetch
# from; links to any other host are ignored.
allowed_hosts:
{{- range .Hosts}}
  - {{.}}
{{- end}}
# start_urls are the index pages a sweep begins with. The "all" category
# pages through every static listing. The JavaScript search page is an
# empty shell whose script lists the JS listings, {{.Batch}} more each time the
# page is scrolled to the bottom; only a rendered, scrolled page shows them.
start_urls:
  - {{.Base}}/category/all
  - {{.Base}}/js/search
# search adds one index page per query: {query} in url_template is replaced
# by the URL-escaped term. The results overlap with the "all" category and
# with each other, so a sweep has to deduplicate listing URLs.
search:
  url_template: "{{.Base}}/search?q={query}"
  queries:
{{- range .Queries}}
    - {{.}}
{{- end}}
# selectors are CSS selectors for links on index pages and fields on
# listing pages.
selectors:
  # listing_links are the links from an index page to listing pages.
  listing_links: a.listing-link
  # next_page is the link to the next index page; absent on the last page.
  next_page: a.next
  fields:
    # Each field selector reads the text of the first element it matches.
    title: h1.title
    description: div.description
    price: span.price
    currency: span.currency
    seller: span.seller
    location: span.location
    # images reads the src of every photo.
    images: img.photo
    # lang is left out: each listing page names its language in <html lang>.
# render says how pages are fetched: static (plain HTTP only), browser
# (every page in headless Chrome) or auto: fetch statically and render the
# page when the selectors find nothing in it (no listing links on an index
# page, no title on a listing page). The static site stays static; the
# /js/ pages are shells, so auto mode renders them.
render: auto
# browser says how pages are rendered.
browser:
  # wait for the selector of the page's kind (listing_links on index
  # pages, the title on listing pages); it is the default. A JS listing
  # page shows its listing 300ms after it loads.
  wait: selector
  # max_wait bounds the wait. One JS listing page never finishes loading
  # (an image never answers) but shows its listing; one freezes the tab and
  # never shows it.
  max_wait: 8s
  # scroll scrolls to the bottom while the page grows, up to max_scrolls
  # times: the JavaScript search page needs {{.Scrolls}} scrolls to show all
  # {{.JSCount}} JS listings.
  scroll: true
  max_scrolls: 10
  # block_resources is left out: media and fonts are never loaded (the
  # default); images and scripts are.
  # render_paths would name path prefixes to render without a static try,
  # for example:
  #   render_paths: [/js/]
  # It is left out: auto mode finds the /js/ pages by itself.
# limits bound one sweep.
limits:
  # max_pages bounds the index pages fetched per start URL; the "all"
  # category has fewer than 25, the JavaScript search page is one page
  # however far it scrolls.
  max_pages: 50
  # max_listings bounds the listings captured per sweep; the site links to
  # fewer than 450.
  max_listings: 1000
  # max_body_bytes bounds one response body; the largest page is a few KiB.
  max_body_bytes: 1048576
  # timeout bounds one request; one listing page answers only after 3s.
  timeout: 30s
  # max_redirects bounds the redirects followed for one request; one link
  # goes through /go/<id> to its listing.
  max_redirects: 5
# politeness bounds how hard the crawler works the host.
politeness:
  # requests_per_second per host; the demo site is local and fast.
  requests_per_second: 20
  # concurrency is the number of requests in flight per host.
  concurrency: 4
  # obey_robots makes the crawler read robots.txt, which disallows /private/.
  obey_robots: true
  # allow_private_addresses lets the crawler connect to loopback and private
  # addresses; the demo site runs on 127.0.0.1. Never set it for a real
  # marketplace.
  allow_private_addresses: true
# user_agent is left out, so the default User-Agent, which identifies
# wildwatch, is sent.
# removed tells the page of a listing taken down from a live one; every
# sweep checks again the listings earlier sweeps captured, and one whose
# page answers 404 or 410, or is a removal page, is recorded as removed. It
# is left out: then a page that shows no listing title and says "listing
# has been removed" or the like (wildwatch.DefaultRemovedText) is a removal
# page, as the demo site's removal notice is. A marketplace with a notice
# of its own would say, for example:
#   removed:
#     selector: p.notice
#     text: ["has been removed by the seller"]
`))

// TargetYAML returns the demo target, as in
// deploy/examples/demo-target.yaml, for the site served at baseURL (as
// "http://127.0.0.1:8090").
func TargetYAML(baseURL string) []byte {
	base := strings.TrimRight(baseURL, "/")
	hosts := []string{"127.0.0.1", "localhost"}
	if u, err := url.Parse(base); err == nil && u.Hostname() != "" && !slices.Contains(hosts, u.Hostname()) {
		hosts = append([]string{u.Hostname()}, hosts...)
	}
	var quoted []string
	for _, h := range hosts {
		quoted = append(quoted, strconv.Quote(h))
	}
	js := jsListingCount()
	var b bytes.Buffer
	err := targetTmpl.Execute(&b, struct {
		Base                    string
		Hosts, Queries          []string
		Batch, JSCount, Scrolls int
	}{base, quoted, searchQueries, JSBatch, js, jsScrolls(js)})
	if err != nil {
		panic("demosite: target template: " + err.Error()) // the template and its data are fixed
	}
	return b.Bytes()
}

// jsScrolls is the number of scrolls the JavaScript search page needs to
// show n results: the first batch comes with the page.
func jsScrolls(n int) int { return max(0, (n+JSBatch-1)/JSBatch-1) }

// jsListingCount is the number of listings the JavaScript section holds.
func jsListingCount() int {
	n := 0
	for _, lx := range jsLexicons() {
		for _, o := range lx.offers {
			n += max(o.times, 1)
		}
	}
	return n
}
