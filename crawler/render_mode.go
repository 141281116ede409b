package crawler

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
)

// NeedsRender decides, for a target in auto mode, whether a page must be
// rendered in the browser, and says why. It is true when the target
// renders every page ("target renders every page"), when the URL's path
// starts with one of Browser.RenderPaths ("path needs the browser"), and,
// given a successful static capture c of the page, when the target's
// selectors find nothing in it: no title on a listing page ("static
// listing page had no title") or no listing links on an index page
// ("static index page had no listing links"). It is false for static
// targets, for a nil or rendered capture, and for a capture whose status is
// not 2xx (an error page is not a page that needs JavaScript).
func NeedsRender(t wildwatch.Target, kind, rawURL string, c *wildwatch.Capture) (bool, string) {
	t = t.WithDefaults()
	switch t.Render {
	case wildwatch.RenderStatic:
		return false, ""
	case wildwatch.RenderBrowser:
		return true, "target renders every page"
	}
	if u, err := url.Parse(rawURL); err == nil {
		for _, p := range t.Browser.RenderPaths {
			if p != "" && strings.HasPrefix(u.Path, p) {
				return true, "path needs the browser"
			}
		}
	}
	if c == nil || c.Rendered != nil || c.Status < 200 || c.Status > 299 {
		return false, ""
	}
	pageURL := c.FinalURL
	if pageURL == "" {
		pageURL = rawURL
	}
	text := c.Text
	if text == "" {
		text = string(c.Body)
	}
	switch kind {
	case wildwatch.PageListing:
		if _, err := ExtractListing(t, pageURL, text); errors.Is(err, ErrNoTitle) {
			return true, "static listing page had no title"
		}
	case wildwatch.PageIndex:
		if links, err := ExtractLinks(t, pageURL, text); err == nil && len(links.Listings) == 0 {
			return true, "static index page had no listing links"
		}
	}
	return false, ""
}

// robotsAllowed checks rawURL against robots.txt as Fetch does, fetching
// robots.txt when it is not known, without requesting the page. Errors are
// *FetchError.
func (f *Fetcher) robotsAllowed(ctx context.Context, t wildwatch.Target, rawURL string, u *url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(t.Limits.Timeout))
	defer cancel()
	if _, err := f.checkRobots(ctx, f.collector(t).tr, u); err != nil {
		return classify(rawURL, err)
	}
	return nil
}
