package demosite

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/wildwatch/wildwatch"
)

// The tests cannot run JavaScript. What a browser would do with the
// section's pages is played here by reading the JSON the pages' scripts
// read; TestScripts ties the scripts to the same paths and classes.

// getJSON GETs path from the site and decodes its JSON answer into v.
func getJSON(t *testing.T, b *testBundle, path string, v any) *http.Response {
	t.Helper()
	resp, body := b.get(t, http.MethodGet, path)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v: %q", path, err, body)
	}
	return resp
}

// scriptSrcs returns the src of every external script of a page.
func scriptSrcs(doc *goquery.Document) []string {
	var out []string
	doc.Find("script[src]").Each(func(_ int, s *goquery.Selection) {
		src, _ := s.Attr("src")
		out = append(out, src)
	})
	return out
}

// freezes reports whether one of the page's inline scripts spins forever.
func freezes(doc *goquery.Document) bool {
	found := false
	doc.Find("script:not([src])").Each(func(_ int, s *goquery.Selection) {
		found = found || strings.Contains(s.Text(), "for(;;){}")
	})
	return found
}

// renderSearch plays the rendering and scrolling of the JavaScript search
// page whose static HTML is doc: it returns the listing links the page
// shows once every batch is loaded and the number of scrolls that took.
func renderSearch(t *testing.T, b *testBundle, doc *goquery.Document) (hrefs []string, scrolls int) {
	t.Helper()
	if srcs := scriptSrcs(doc); len(srcs) != 1 || srcs[0] != searchJSPath {
		t.Fatalf("index page without listing links loads scripts %v, want %s", srcs, searchJSPath)
	}
	offset, batches := 0, 0
	for {
		var p jsSearchPage
		path := apiSearchPath
		if batches > 0 {
			path += "?offset=" + strconv.Itoa(offset)
		}
		if resp := getJSON(t, b, path, &p); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		batches++
		if p.Offset != offset || len(p.Results) == 0 || len(p.Results) > JSBatch {
			t.Fatalf("%s: offset %d with %d results", path, p.Offset, len(p.Results))
		}
		for _, r := range p.Results {
			hrefs = append(hrefs, r.Href)
		}
		if p.Next == nil {
			if len(hrefs) != p.Total {
				t.Errorf("search API listed %d results of %d", len(hrefs), p.Total)
			}
			// The first batch comes with the page; each scroll adds one.
			return hrefs, batches - 1
		}
		if *p.Next != offset+len(p.Results) {
			t.Fatalf("%s: next %d after %d results from %d", path, *p.Next, len(p.Results), offset)
		}
		offset = *p.Next
	}
}

// renderListing plays the rendering of a JS listing page whose static HTML
// is doc: the fields its script shows, or false when its script freezes
// the tab before it shows anything.
func renderListing(t *testing.T, b *testBundle, doc *goquery.Document) (Listing, bool) {
	t.Helper()
	if srcs := scriptSrcs(doc); len(srcs) != 1 || srcs[0] != itemJSPath {
		t.Fatalf("listing page without a title loads scripts %v, want %s", srcs, itemJSPath)
	}
	if freezes(doc) {
		return Listing{}, false
	}
	id, ok := doc.Find("#listing").Attr("data-id")
	if !ok {
		t.Fatal("listing shell without data-id")
	}
	var l jsListing
	if resp := getJSON(t, b, apiItemPrefix+id, &l); resp.StatusCode != http.StatusOK {
		t.Fatalf("%s%s: status %d", apiItemPrefix, id, resp.StatusCode)
	}
	return Listing{ID: l.ID, Title: l.Title, Description: l.Description, Price: l.Price, Currency: l.Currency,
		Seller: l.Seller, Location: l.Location, Lang: l.Lang, Images: l.Images}, true
}

// staticFinds reports whether the target's selectors find anything in a
// page's static HTML, the test auto mode uses to decide to render.
func staticFinds(doc *goquery.Document, s wildwatch.Selectors) bool {
	return doc.Find(s.ListingLinks).Length() > 0 || strings.TrimSpace(doc.Find(s.Fields.Title).First().Text()) != ""
}
