package demosite

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html/charset"

	"github.com/wildwatch/wildwatch"
)

func parseHTML(t *testing.T, body []byte) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing HTML: %v", err)
	}
	return doc
}

// fetchDecoded GETs u following redirects and decodes the body to UTF-8 by
// its Content-Type.
func fetchDecoded(t *testing.T, c *http.Client, u string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	r, err := charset.NewReader(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("GET %s: charset: %v", u, err)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", u, err)
	}
	return resp, body
}

// extract reads a listing page with the target's field selectors, the way
// the crawler is told to.
func extract(doc *goquery.Document, f wildwatch.FieldSelectors) Listing {
	text := func(sel string) string { return strings.TrimSpace(doc.Find(sel).First().Text()) }
	l := Listing{
		Title: text(f.Title), Description: text(f.Description), Price: text(f.Price), Currency: text(f.Currency),
		Seller: text(f.Seller), Location: text(f.Location),
	}
	l.Lang, _ = doc.Find("html").Attr("lang")
	doc.Find(f.Images).Each(func(_ int, s *goquery.Selection) {
		src, _ := s.Attr("src")
		l.Images = append(l.Images, src)
	})
	return l
}

// sameFields compares what a page shows with what the site holds.
func sameFields(got, want Listing) bool {
	return got.Title == want.Title && got.Description == want.Description && got.Price == want.Price &&
		got.Currency == want.Currency && got.Seller == want.Seller && got.Location == want.Location &&
		got.Lang == want.Lang && slices.Equal(got.Images, want.Images)
}

// disallowed reads the Disallow lines of the site's robots.txt.
func disallowed(t *testing.T, c *http.Client, base string) []string {
	t.Helper()
	_, body := fetchDecoded(t, c, base+"/robots.txt")
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Disallow:"); ok && strings.TrimSpace(v) != "" {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// TestSweep walks the demo target the way a correct sweep does: every index
// page from every start URL, each listing URL once, robots.txt obeyed, a
// page rendered (played by renderSearch and renderListing) when its static
// HTML shows nothing the selectors find, and finds exactly the reachable
// listings and the truth.
func TestSweep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	target := parseTarget(t, TargetYAML(b.srv.URL)).WithDefaults()
	c := b.srv.Client() // follows redirects
	base, _ := url.Parse(b.srv.URL)
	robots := disallowed(t, c, b.srv.URL)

	var queue []*url.URL
	queued := map[string]bool{}
	links := 0
	var renderedIndex, renderedListings, frozen []string
	for _, start := range target.IndexURLs() {
		next, pages := start, 0
		for ; next != "" && pages < target.Limits.MaxPages; pages++ {
			resp, body := fetchDecoded(t, c, next)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("index %s: status %d", next, resp.StatusCode)
			}
			doc := parseHTML(t, body)
			var hrefs []string
			doc.Find(target.Selectors.ListingLinks).Each(func(_ int, s *goquery.Selection) {
				href, _ := s.Attr("href")
				hrefs = append(hrefs, href)
			})
			if !staticFinds(doc, target.Selectors) && target.Render == wildwatch.RenderAuto {
				var scrolls int
				hrefs, scrolls = renderSearch(t, b, doc)
				renderedIndex = append(renderedIndex, next)
				if !target.Browser.Scroll || scrolls > target.Browser.MaxScrolls {
					t.Errorf("%s needs %d scrolls; browser settings %+v", next, scrolls, target.Browser)
				}
			}
			for _, href := range hrefs {
				u, err := resp.Request.URL.Parse(href)
				if err != nil {
					t.Errorf("listing link %q: %v", href, err)
					continue
				}
				if !slices.Contains(target.AllowedHosts, u.Hostname()) {
					t.Errorf("listing link %s outside allowed hosts %v", u, target.AllowedHosts)
				}
				links++
				if !queued[u.String()] {
					queued[u.String()] = true
					queue = append(queue, u)
				}
			}
			next = ""
			if href, ok := doc.Find(target.Selectors.NextPage).Attr("href"); ok {
				u, err := resp.Request.URL.Parse(href)
				if err != nil {
					t.Fatalf("next link %q: %v", href, err)
				}
				next = u.String()
			}
		}
		if next != "" {
			t.Errorf("%s: more than max_pages (%d) index pages", start, target.Limits.MaxPages)
		}
	}
	if links <= len(queue) {
		t.Errorf("%d listing links, %d distinct: the searches should overlap", links, len(queue))
	}

	byPath := map[string]Listing{}
	for _, l := range b.site.Listings() {
		byPath[l.Path] = l
	}
	captured := map[string]bool{}
	var flagged []string
	statuses := map[int]int{}
	skipped := 0
	for _, u := range queue {
		if slices.ContainsFunc(robots, func(p string) bool { return strings.HasPrefix(u.Path, p) }) {
			skipped++
			continue
		}
		resp, body := fetchDecoded(t, c, u.String())
		statuses[resp.StatusCode]++
		if resp.StatusCode != http.StatusOK {
			continue
		}
		final := resp.Request.URL
		want, ok := byPath[final.Path]
		if !ok {
			t.Errorf("%s (from %s) is not a listing", final, u)
			continue
		}
		if captured[final.Path] {
			t.Errorf("%s captured twice", final.Path)
		}
		doc := parseHTML(t, body)
		got := extract(doc, target.Selectors.Fields)
		if !staticFinds(doc, target.Selectors) && target.Render == wildwatch.RenderAuto {
			var ok bool
			if got, ok = renderListing(t, b, doc); !ok {
				frozen = append(frozen, final.Path)
				continue
			}
			renderedListings = append(renderedListings, final.Path)
		}
		captured[final.Path] = true
		if !sameFields(got, want) {
			t.Errorf("%s: extracted\n%+v\nwant\n%+v", final, got, want)
		}
		if want.Label == LabelPositive {
			flagged = append(flagged, base.Scheme+"://"+base.Host+final.Path)
		}
	}

	var reachable, gotReachable []string
	for _, l := range b.site.Listings() {
		if l.Reachable {
			reachable = append(reachable, l.Path)
		}
	}
	for p := range captured {
		gotReachable = append(gotReachable, p)
	}
	slices.Sort(reachable)
	slices.Sort(gotReachable)
	if !slices.Equal(gotReachable, reachable) {
		t.Errorf("sweep captured %d listings, %d are reachable; missing %v, extra %v", len(gotReachable), len(reachable),
			setMinus(reachable, gotReachable), setMinus(gotReachable, reachable))
	}
	slices.Sort(flagged)
	if truth := b.site.Truth(b.srv.URL); !slices.Equal(flagged, truth) {
		t.Errorf("sweep flags %d listings, Truth has %d", len(flagged), len(truth))
	}
	if statuses[http.StatusNotFound] != len(brokenLinks) || statuses[http.StatusInternalServerError] != 1 {
		t.Errorf("statuses %v: want %d × 404 and 1 × 500", statuses, len(brokenLinks))
	}
	if skipped == 0 {
		t.Error("no listing link was disallowed by robots.txt")
	}
	if want := []string{b.srv.URL + jsSearchPath}; !slices.Equal(renderedIndex, want) {
		t.Errorf("rendered index pages %v, want %v", renderedIndex, want)
	}
	var wantRendered []string
	for _, l := range b.site.Listings() {
		if l.JS && l.Reachable {
			wantRendered = append(wantRendered, l.Path)
		}
	}
	slices.Sort(renderedListings)
	slices.Sort(wantRendered)
	if !slices.Equal(renderedListings, wantRendered) {
		t.Errorf("rendered %d listing pages, want the %d reachable JS listings", len(renderedListings), len(wantRendered))
	}
	if freeze := withRole(t, b.site, roleFreeze); !slices.Equal(frozen, []string{freeze.Path}) {
		t.Errorf("pages that froze %v, want %s", frozen, freeze.Path)
	}

	seen := map[string]bool{}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.requests {
		if strings.Contains(r, "/private/") {
			t.Errorf("request for a disallowed page: %s", r)
		}
		if seen[r] && !strings.Contains(r, "/robots.txt") {
			t.Errorf("duplicate request: %s", r)
		}
		seen[r] = true
	}
}

// TestListingPages checks every static listing page, disallowed ones
// included, against the target's selectors (TestJSListingPages checks the
// others).
func TestListingPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := parseTarget(t, TargetYAML(b.srv.URL)).Selectors.Fields
	broken := withRole(t, b.site, roleBroken)
	for _, want := range b.site.Listings() {
		if want.ID == broken.ID || want.JS {
			continue
		}
		resp, body := fetchDecoded(t, b.srv.Client(), b.srv.URL+want.Path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", want.Path, resp.StatusCode)
			continue
		}
		doc := parseHTML(t, body)
		for _, sel := range []string{f.Title, f.Description, f.Price, f.Currency, f.Seller, f.Location} {
			if n := doc.Find(sel).Length(); n != 1 {
				t.Errorf("%s: %d elements match %q, want 1", want.Path, n, sel)
			}
		}
		if got := extract(doc, f); !sameFields(got, want) {
			t.Errorf("%s: extracted\n%+v\nwant\n%+v", want.Path, got, want)
		}
	}
}

func parseTarget(t *testing.T, src []byte) wildwatch.Target {
	t.Helper()
	var tg wildwatch.Target
	dec := yamlDecoder(src)
	if err := dec.Decode(&tg); err != nil {
		t.Fatalf("parsing target: %v\n%s", err, src)
	}
	return tg
}

func TestListingsAreACopy(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	ls := s.Listings()
	ls[0].Title = "changed"
	ls[0].Images[0] = "changed"
	if again := s.Listings(); reflect.DeepEqual(again[0], ls[0]) {
		t.Error("Listings returns the site's own slice")
	}
}

// setMinus returns the elements of a not in b.
func setMinus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
