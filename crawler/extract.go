package crawler

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/cascadia"

	"github.com/wildwatch/wildwatch"
)

// ErrNoTitle reports a listing page whose title selector found no text.
var ErrNoTitle = errors.New("listing has no title")

// Links are the links an index page leads to.
type Links struct {
	// Listings are the listing URLs, absolute, without fragments, on the
	// target's allowed hosts, deduplicated in page order.
	Listings []string `json:"listings"`
	// Next is the next index page, or "".
	Next string `json:"next,omitempty"`
}

// ExtractLinks reads the listing links and the next-page link of an index
// page with t's selectors. Relative links are resolved against the page's
// <base href> or pageURL; links to other hosts or schemes are dropped.
func ExtractLinks(t wildwatch.Target, pageURL string, html string) (Links, error) {
	doc, base, err := parsePage(pageURL, html)
	if err != nil {
		return Links{}, err
	}
	var links Links
	if t.Selectors.ListingLinks == "" {
		return links, errors.New("selectors.listing_links is empty")
	}
	sel, err := compileSelector("selectors.listing_links", t.Selectors.ListingLinks)
	if err != nil {
		return links, err
	}
	seen := make(map[string]bool)
	doc.FindMatcher(sel).Each(func(_ int, s *goquery.Selection) {
		u := linkURL(t, base, s)
		if u != "" && !seen[u] {
			seen[u] = true
			links.Listings = append(links.Listings, u)
		}
	})
	if t.Selectors.NextPage != "" {
		sel, err := compileSelector("selectors.next_page", t.Selectors.NextPage)
		if err != nil {
			return links, err
		}
		if next := doc.FindMatcher(sel).First(); next.Length() > 0 {
			links.Next = linkURL(t, base, next)
			if links.Next == stripFragment(base.page) {
				links.Next = ""
			}
		}
	}
	return links, nil
}

// ExtractListing reads a listing's fields from its page with t's selectors.
// Text fields hold the whitespace-collapsed text of the first element each
// selector matches; Images hold the absolute URLs of every element the
// images selector matches. The listing is returned with ErrNoTitle when the
// title is empty.
func ExtractListing(t wildwatch.Target, pageURL string, html string) (wildwatch.Listing, error) {
	doc, base, err := parsePage(pageURL, html)
	if err != nil {
		return wildwatch.Listing{}, err
	}
	l := wildwatch.Listing{URL: pageURL, Platform: t.Platform}
	if l.Platform == "" {
		l.Platform = base.page.Hostname()
	}
	fs := t.Selectors.Fields
	for _, f := range []struct {
		name string
		sel  string
		dst  *string
	}{
		{"title", fs.Title, &l.Title},
		{"description", fs.Description, &l.Description},
		{"price", fs.Price, &l.Price},
		{"currency", fs.Currency, &l.Currency},
		{"seller", fs.Seller, &l.Seller},
		{"location", fs.Location, &l.Location},
	} {
		if f.sel == "" {
			continue
		}
		sel, err := compileSelector("selectors.fields."+f.name, f.sel)
		if err != nil {
			return l, err
		}
		*f.dst = collapse(doc.FindMatcher(sel).First().Text())
	}
	if fs.Images != "" {
		sel, err := compileSelector("selectors.fields.images", fs.Images)
		if err != nil {
			return l, err
		}
		seen := make(map[string]bool)
		doc.FindMatcher(sel).Each(func(_ int, s *goquery.Selection) {
			if u := imageURL(base, s); u != "" && !seen[u] {
				seen[u] = true
				l.Images = append(l.Images, u)
			}
		})
	}
	if fs.Lang != "" {
		sel, err := compileSelector("selectors.fields.lang", fs.Lang)
		if err != nil {
			return l, err
		}
		if s := doc.FindMatcher(sel).First(); s.Length() > 0 {
			if lang, ok := s.Attr("lang"); ok && strings.TrimSpace(lang) != "" {
				l.Lang = strings.TrimSpace(lang)
			} else {
				l.Lang = collapse(s.Text())
			}
		}
	}
	if l.Lang == "" {
		l.Lang = strings.TrimSpace(doc.Find("html").AttrOr("lang", ""))
	}
	if l.Title == "" {
		return l, fmt.Errorf("%s: %w", pageURL, ErrNoTitle)
	}
	return l, nil
}

// pageBase is what relative URLs on a page resolve against.
type pageBase struct {
	page *url.URL // the page's own URL
	base *url.URL // <base href> resolved against page, or page
}

func parsePage(pageURL, html string) (*goquery.Document, pageBase, error) {
	u, err := url.Parse(pageURL)
	if err != nil || !u.IsAbs() {
		return nil, pageBase{}, fmt.Errorf("page URL %q is not absolute", pageURL)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		return nil, pageBase{}, fmt.Errorf("parsing %s: %w", pageURL, err)
	}
	pb := pageBase{page: u, base: u}
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if b, err := u.Parse(strings.TrimSpace(href)); err == nil {
			pb.base = b
		}
	}
	return doc, pb, nil
}

func compileSelector(field, sel string) (cascadia.Selector, error) {
	m, err := cascadia.Compile(sel)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", field, sel, err)
	}
	return m, nil
}

// linkURL resolves the href of s (or of the first <a href> inside it) and
// keeps it when it is http(s) on an allowed host.
func linkURL(t wildwatch.Target, base pageBase, s *goquery.Selection) string {
	href, ok := s.Attr("href")
	if !ok {
		href, ok = s.Find("a[href]").First().Attr("href")
	}
	if !ok {
		return ""
	}
	u := resolve(base, href)
	if u == nil || !hostAllowed(t, u.Hostname()) {
		return ""
	}
	return u.String()
}

// imageURL resolves the image address of s: data-src when the element
// loads lazily (src then holds a placeholder), else src.
func imageURL(base pageBase, s *goquery.Selection) string {
	for _, attr := range []string{"data-src", "src"} {
		if v := strings.TrimSpace(s.AttrOr(attr, "")); v != "" {
			if u := resolve(base, v); u != nil {
				return u.String()
			}
		}
	}
	return ""
}

// resolve resolves ref against the page's base and drops the fragment. It
// returns nil for anything but an http(s) URL with a host.
func resolve(base pageBase, ref string) *url.URL {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil
	}
	u, err := base.base.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	u.Fragment, u.RawFragment = "", ""
	return u
}

func stripFragment(u *url.URL) string {
	c := *u
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// collapse trims s and folds runs of white space to one space.
func collapse(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
