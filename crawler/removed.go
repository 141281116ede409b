package crawler

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/cascadia"

	"github.com/wildwatch/wildwatch"
)

// Removal tells whether a fetched listing page says that the listing is
// gone, and why; "" when it does not. A 404 or 410 answer is a removal; a
// 2xx page is one when it is the target's removal page (see
// wildwatch.RemovedPage): for a rendered capture the rendered DOM is read,
// else the decoded body. Any other status is not a removal but an error of
// its own.
//
// A block or CAPTCHA page (IsBlocked) is never a removal.
//
// Whether a removal means anything is the caller's decision: a listing
// never captured before that answers 404 is a broken link, not a takedown.
func Removal(t wildwatch.Target, c *wildwatch.Capture) string {
	if c == nil || IsBlocked(t, c) != "" {
		// A block page says nothing about the listing.
		return ""
	}
	switch c.Status {
	case http.StatusNotFound, http.StatusGone:
		return fmt.Sprintf("status %d %s", c.Status, strings.ToLower(http.StatusText(c.Status)))
	}
	if c.Status < 200 || c.Status > 299 {
		return ""
	}
	html := c.Text
	if c.Rendered != nil && len(c.Rendered.DOM) > 0 {
		html = string(c.Rendered.DOM)
	} else if html == "" {
		html = string(c.Body)
	}
	pageURL := c.FinalURL
	if pageURL == "" {
		pageURL = c.URL
	}
	return removalPage(t, pageURL, html)
}

// removalPage reports why html is t's removal page, or "".
func removalPage(t wildwatch.Target, pageURL, html string) string {
	doc, _, err := parsePage(pageURL, html)
	if err != nil {
		return ""
	}
	// Scripts and styles are not what the page says; a script that shows
	// "no longer available" when its data is missing is not a removal.
	doc.Find("script, style, noscript, template").Remove()
	spec := t.Removed
	if spec == nil || spec.Selector == "" {
		if _, err := ExtractListing(t, pageURL, html); !errors.Is(err, ErrNoTitle) {
			return "" // the page shows a listing
		}
		phrases := wildwatch.DefaultRemovedText
		if spec != nil && len(spec.Text) > 0 {
			phrases = spec.Text
		}
		if p := findPhrase(doc.Text(), phrases); p != "" {
			return fmt.Sprintf("page says %q", p)
		}
		return ""
	}
	sel, err := cascadia.Compile(spec.Selector)
	if err != nil {
		return ""
	}
	found := doc.FindMatcher(sel)
	if found.Length() == 0 {
		return ""
	}
	if len(spec.Text) == 0 {
		return fmt.Sprintf("page has %q", spec.Selector)
	}
	var reason string
	found.EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if p := findPhrase(s.Text(), spec.Text); p != "" {
			reason = fmt.Sprintf("%s says %q", spec.Selector, p)
			return false
		}
		return true
	})
	return reason
}

// findPhrase returns the first of phrases that text holds, comparing
// without regard to case or runs of white space; "" when none.
func findPhrase(text string, phrases []string) string {
	hay := strings.ToLower(collapse(text))
	for _, p := range phrases {
		if needle := strings.ToLower(collapse(p)); needle != "" && strings.Contains(hay, needle) {
			return p
		}
	}
	return ""
}

// checkRemoved checks the removal page settings: a selector that compiles,
// phrases that are not blank.
func (p *targetParser) checkRemoved(t wildwatch.Target) error {
	r := t.Removed
	if r == nil {
		return nil
	}
	if r.Selector != "" {
		if _, err := cascadia.Compile(r.Selector); err != nil {
			return p.fail("removed.selector", "bad selector %q: %v", r.Selector, err)
		}
	}
	for i, s := range r.Text {
		if strings.TrimSpace(s) == "" {
			return p.fail(fmt.Sprintf("removed.text[%d]", i), "empty phrase")
		}
	}
	return nil
}
