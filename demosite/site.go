// Package demosite serves a fake marketplace for demos, tests and
// benchmarks: a few hundred listings in eleven languages, of which about a
// quarter offer prohibited wildlife products and about a sixth are traps
// that only look like it, with the awkward parts of real sites (robots.txt,
// broken links, a slow page, a page that always fails, a page in GBK, a
// redirect). A JavaScript section under /js/ holds about 45 more listings
// in the same mix that only a browser finds: its search page and listing
// pages are empty shells that scripts fill in from a JSON API, the search
// page through infinite scroll. One of its pages never finishes loading
// (an image never answers) and one freezes the tab. Truth tells which
// listing URLs a correct sweep of the demo target (TargetYAML) flags.
// Remove takes a listing off the site, the way a takedown would, so that a
// later sweep finds it gone.
//
// Site layout:
//
//	/                              home: search form and categories
//	/search?q=TERM&page=N          20 results a page; q="" lists everything
//	/category/<slug>?page=N        "all" or one section
//	/item/<id>                     listing page
//	/private/item/<id>             listing page robots.txt disallows
//	/go/<id>                       302 to /item/<id>
//	/img/<id>-<n>.png|svg          listing photos
//	/robots.txt
//
// JavaScript section:
//
//	/js/search                     shell; its script lists JS listings, 10 more at each scroll to the bottom
//	/js/item/<id>                  shell; its script shows the listing after 300ms
//	/api/js/search?offset=N        JSON: 10 results from N, and the next offset (null at the end)
//	/api/js/item/<id>              JSON: the listing's fields
//	/assets/search.js, item.js     the scripts
//	/hang/<name>                   never answers; ends when the client gives up
package demosite

import (
	"cmp"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PageSize is the number of results on one index page.
const PageSize = 20

// DefaultSlowDelay is how long the slow listing page takes by default.
const DefaultSlowDelay = 3 * time.Second

// DefaultHangLimit is how long a /hang/ request waits, by default, before
// it gives up by itself: far longer than any client waits for a page, so
// that a client which never gives up cannot hold the server open forever.
const DefaultHangLimit = time.Minute

// Config configures a Site. The zero value serves the site with defaults.
type Config struct {
	// Logger receives a debug record per request; nil discards.
	Logger *slog.Logger
	// SlowDelay is how long the one slow listing page waits before it
	// answers (default DefaultSlowDelay; negative means no wait).
	SlowDelay time.Duration
	// HangLimit is how long a /hang/ request waits when its client does not
	// give up first (default DefaultHangLimit; negative means until the
	// client gives up).
	HangLimit time.Duration
	// Log, when set, is called with every request received, before it is
	// answered.
	Log func(r *http.Request)
}

// Site is the demo marketplace. It implements http.Handler and is safe for
// concurrent use.
type Site struct {
	log       *slog.Logger
	slowDelay time.Duration
	hangLimit time.Duration
	onRequest func(r *http.Request)
	cat       *catalog

	mu      sync.Mutex
	removed map[string]Removal // listing id → how its page answers (Remove)
}

var _ http.Handler = (*Site)(nil)

// New returns the demo marketplace. Its content is the same on every call.
func New(cfg Config) *Site {
	s := &Site{
		log:       cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		slowDelay: cmp.Or(cfg.SlowDelay, DefaultSlowDelay),
		hangLimit: cmp.Or(cfg.HangLimit, DefaultHangLimit),
		onRequest: cfg.Log,
		cat:       buildCatalog(),
	}
	return s
}

// Listings returns every listing the site holds: the static ones in the
// order of the "all" category, then the JS ones (Listing.JS) in the order
// of the JavaScript search page.
func (s *Site) Listings() []Listing {
	out := slices.Clone(s.cat.listings)
	for i := range out {
		out[i].Images = slices.Clone(out[i].Images)
	}
	return out
}

// Truth returns, sorted, the absolute URLs of the listings a correct sweep
// of TargetYAML(baseURL) flags: the positive listings linked from the index
// pages, minus those robots.txt disallows and the one whose page always
// fails, and the positive JS listings the rendered, scrolled JavaScript
// search page links to, minus the one whose page freezes the tab. The JS
// listing whose page never finishes loading is in it: its listing shows.
func (s *Site) Truth(baseURL string) []string {
	base := strings.TrimRight(baseURL, "/")
	var out []string
	for _, p := range s.cat.truth() {
		out = append(out, base+p)
	}
	return out
}

// ServeHTTP answers GET and HEAD requests for the site's pages.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.onRequest != nil {
		s.onRequest(r)
	}
	s.log.Debug("demo site request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.sendText(w, r, http.StatusMethodNotAllowed, "method not allowed\n")
		return
	}
	p := r.URL.Path
	switch {
	case p == "/":
		s.home(w, r)
	case p == "/robots.txt":
		s.sendText(w, r, http.StatusOK, robotsTxt)
	case p == "/search":
		s.search(w, r)
	case strings.HasPrefix(p, "/category/"):
		s.category(w, r, strings.TrimPrefix(p, "/category/"))
	case strings.HasPrefix(p, "/item/"):
		s.item(w, r, strings.TrimPrefix(p, "/item/"), false)
	case strings.HasPrefix(p, "/private/item/"):
		s.item(w, r, strings.TrimPrefix(p, "/private/item/"), true)
	case strings.HasPrefix(p, "/go/"):
		s.redirect(w, r, strings.TrimPrefix(p, "/go/"))
	case strings.HasPrefix(p, "/img/"):
		s.image(w, r, p)
	case p == jsSearchPath:
		s.jsSearch(w, r)
	case strings.HasPrefix(p, jsItemPrefix):
		s.jsItem(w, r, strings.TrimPrefix(p, jsItemPrefix))
	case p == apiSearchPath:
		s.apiSearch(w, r)
	case strings.HasPrefix(p, apiItemPrefix):
		s.apiItem(w, r, strings.TrimPrefix(p, apiItemPrefix))
	case p == searchJSPath:
		s.script(w, r, searchJS)
	case p == itemJSPath:
		s.script(w, r, itemJS)
	case strings.HasPrefix(p, hangPrefix):
		s.hang(w, r)
	default:
		s.notFound(w, r)
	}
}

// robotsTxt keeps crawlers out of /private/.
const robotsTxt = `# Demo Market
User-agent: *
Disallow: /private/
`

func (s *Site) home(w http.ResponseWriter, r *http.Request) {
	var cats []categoryLink
	for _, sec := range sections {
		n := 0
		for _, e := range s.cat.entries {
			if e.section == sec.slug {
				n++
			}
		}
		cats = append(cats, categoryLink{Href: "/category/" + sec.slug, Name: sec.name, Count: n})
	}
	s.render(w, r, http.StatusOK, homeTmpl, homePage{
		All:        categoryLink{Href: "/category/all", Name: "All listings", Count: len(s.cat.entries)},
		Categories: cats,
	})
}

func (s *Site) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	needle := strings.ToLower(q)
	var found []entry
	for _, e := range s.cat.entries {
		if strings.Contains(e.text, needle) {
			found = append(found, e)
		}
	}
	heading := "All listings"
	if q != "" {
		heading = "Results for “" + q + "”"
	}
	s.index(w, r, indexParams{heading: heading, query: "/search?q=" + queryEscape(q), entries: found})
}

func (s *Site) category(w http.ResponseWriter, r *http.Request, slug string) {
	if slug == "all" {
		s.index(w, r, indexParams{heading: "All listings", query: "/category/all?", entries: s.cat.entries})
		return
	}
	i := slices.IndexFunc(sections, func(sec section) bool { return sec.slug == slug })
	if i < 0 {
		s.notFound(w, r)
		return
	}
	var found []entry
	for _, e := range s.cat.entries {
		if e.section == slug {
			found = append(found, e)
		}
	}
	s.index(w, r, indexParams{heading: sections[i].name, query: "/category/" + slug + "?", entries: found})
}

// indexParams describe one paginated list of results.
type indexParams struct {
	heading string
	// query is the page's URL without the page parameter, ending in "?" or
	// in a complete parameter.
	query   string
	entries []entry
}

// index serves one page of an index: 20 results and links to the pages
// before and after.
func (s *Site) index(w http.ResponseWriter, r *http.Request, p indexParams) {
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.sendText(w, r, http.StatusBadRequest, "bad page number\n")
			return
		}
		page = n
	}
	p.entries = s.listed(p.entries)
	pages := max(1, int(math.Ceil(float64(len(p.entries))/PageSize)))
	if page > pages {
		s.notFound(w, r)
		return
	}
	pageURL := func(n int) string {
		if strings.HasSuffix(p.query, "?") {
			return p.query + "page=" + strconv.Itoa(n)
		}
		return p.query + "&page=" + strconv.Itoa(n)
	}
	v := indexPage{Heading: p.heading, Page: page, Pages: pages, Total: len(p.entries)}
	if page > 1 {
		v.Prev = pageURL(page - 1)
	}
	if page < pages {
		v.Next = pageURL(page + 1)
	}
	lo := (page - 1) * PageSize
	for _, e := range p.entries[lo:min(lo+PageSize, len(p.entries))] {
		v.Results = append(v.Results, result{Href: e.href, Title: e.title, Price: e.price,
			Currency: e.currency, Location: e.location})
	}
	s.render(w, r, http.StatusOK, indexTmpl, v)
}

// item serves a listing page.
func (s *Site) item(w http.ResponseWriter, r *http.Request, id string, private bool) {
	i, ok := s.cat.byID[id]
	role := s.cat.roles[id]
	if !ok || s.cat.listings[i].JS || (role == rolePrivate) != private {
		s.notFound(w, r)
		return
	}
	if how, gone := s.removal(id); gone {
		s.serveRemoved(w, r, how)
		return
	}
	l := s.cat.listings[i]
	switch role {
	case roleBroken:
		s.sendText(w, r, http.StatusInternalServerError, "internal server error\n")
		return
	case roleSlow:
		if s.slowDelay > 0 {
			t := time.NewTimer(s.slowDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
	case roleGBK:
		s.sendGBK(w, r, l)
		return
	}
	s.render(w, r, http.StatusOK, itemTmpl, itemPage{Listing: l, Charset: "utf-8"})
}

// redirect sends /go/<id> on to the listing's page.
func (s *Site) redirect(w http.ResponseWriter, r *http.Request, id string) {
	i, ok := s.cat.byID[id]
	if !ok || s.cat.listings[i].JS || s.cat.roles[id] == rolePrivate {
		s.notFound(w, r)
		return
	}
	w.Header().Set("Location", s.cat.listings[i].Path)
	s.sendText(w, r, http.StatusFound, "see "+s.cat.listings[i].Path+"\n")
}

func (s *Site) image(w http.ResponseWriter, r *http.Request, p string) {
	img, ok := s.cat.images[p]
	if !ok {
		s.notFound(w, r)
		return
	}
	if img.svg {
		s.send(w, r, http.StatusOK, "image/svg+xml", svgImage(img))
		return
	}
	s.send(w, r, http.StatusOK, "image/png", pngImage(img))
}

func (s *Site) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, notFoundTmpl, nil)
}

func (s *Site) sendText(w http.ResponseWriter, r *http.Request, status int, body string) {
	s.send(w, r, status, "text/plain; charset=utf-8", []byte(body))
}

// send writes a complete response; a HEAD request gets the headers only.
func (s *Site) send(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(body); err != nil {
		s.log.Debug("demo site write", "path", r.URL.Path, "err", err)
	}
}
