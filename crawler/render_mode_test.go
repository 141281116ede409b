package crawler

import (
	"testing"

	"github.com/wildwatch/wildwatch"
)

func TestNeedsRender(t *testing.T) {
	t.Parallel()
	target := func(render string, paths ...string) wildwatch.Target {
		return wildwatch.Target{
			Name:         "shop",
			AllowedHosts: []string{"shop.example"},
			Render:       render,
			Selectors: wildwatch.Selectors{
				ListingLinks: "a.item",
				Fields:       wildwatch.FieldSelectors{Title: "h1.title"},
			},
			Browser: wildwatch.BrowserSettings{RenderPaths: paths},
		}
	}
	static := func(html string) *wildwatch.Capture {
		return &wildwatch.Capture{Status: 200, FinalURL: "https://shop.example/page", Text: html}
	}
	const (
		listing = `<html><body><h1 class="title">Ivory bangle</h1></body></html>`
		index   = `<html><body><a class="item" href="/item/1">one</a></body></html>`
		shell   = `<html><body><div id="app"></div><script src="/app.js"></script></body></html>`
	)
	rendered := static(shell)
	rendered.Rendered = &wildwatch.Rendering{}
	notFound := static(shell)
	notFound.Status = 404
	tests := []struct {
		name   string
		target wildwatch.Target
		kind   string
		url    string
		c      *wildwatch.Capture
		want   bool
		reason string
	}{
		{"static target", target(wildwatch.RenderStatic, "/item/"), wildwatch.PageListing, "https://shop.example/item/1", static(shell), false, ""},
		{"browser target", target(wildwatch.RenderBrowser), wildwatch.PageListing, "https://shop.example/item/1", nil, true, "target renders every page"},
		{"render path", target(wildwatch.RenderAuto, "/app/", "/item/"), wildwatch.PageListing, "https://shop.example/item/1?x=1", nil, true, "path needs the browser"},
		{"render path, default mode", target("", "/item/"), wildwatch.PageIndex, "https://shop.example/item/1", static(index), true, "path needs the browser"},
		{"path not listed", target(wildwatch.RenderAuto, "/item/"), wildwatch.PageListing, "https://shop.example/items", static(listing), false, ""},
		{"listing with a title", target(wildwatch.RenderAuto), wildwatch.PageListing, "https://shop.example/item/1", static(listing), false, ""},
		{"listing without a title", target(wildwatch.RenderAuto), wildwatch.PageListing, "https://shop.example/item/1", static(shell), true, "static listing page had no title"},
		{"index with links", target(wildwatch.RenderAuto), wildwatch.PageIndex, "https://shop.example/s?q=ivory", static(index), false, ""},
		{"index without links", target(""), wildwatch.PageIndex, "https://shop.example/s?q=ivory", static(shell), true, "static index page had no listing links"},
		{"no static capture yet", target(wildwatch.RenderAuto), wildwatch.PageListing, "https://shop.example/item/1", nil, false, ""},
		{"already rendered", target(wildwatch.RenderAuto), wildwatch.PageListing, "https://shop.example/item/1", rendered, false, ""},
		{"error page", target(wildwatch.RenderAuto), wildwatch.PageListing, "https://shop.example/item/1", notFound, false, ""},
		{"body without text", target(wildwatch.RenderAuto), wildwatch.PageListing, "https://shop.example/item/1",
			&wildwatch.Capture{Status: 200, Body: []byte(listing)}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, reason := NeedsRender(tt.target, tt.kind, tt.url, tt.c)
			if got != tt.want || reason != tt.reason {
				t.Errorf("NeedsRender = %v, %q; want %v, %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}
