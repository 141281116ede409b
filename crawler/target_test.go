package crawler

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func TestParseTargetDemo(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/targets/demo-target.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseTarget("demo-target.yaml", data)
	if err != nil {
		t.Fatalf("ParseTarget: %v", err)
	}
	yes := true
	want := wildwatch.Target{
		Name:         "demo-market",
		Platform:     "Demo Market",
		AllowedHosts: []string{"market.example", "img.market.example"},
		StartURLs:    []string{"https://market.example/c/antiques"},
		Search: &wildwatch.Search{
			URLTemplate: "https://market.example/search?q={query}",
			Queries:     []string{"ivory carving", "象牙"},
		},
		Selectors: wildwatch.Selectors{
			ListingLinks: ".results a.item",
			NextPage:     "a[rel=next]",
			Fields: wildwatch.FieldSelectors{
				Title: "h1.title", Description: ".description", Price: ".price .amount",
				Currency: ".price .currency", Seller: ".seller-name", Location: ".location",
				Images: ".gallery img", Lang: "[data-lang]",
			},
		},
		Limits: wildwatch.Limits{
			MaxPages: 10, MaxListings: 200, MaxBodyBytes: 2 << 20,
			Timeout: wildwatch.Duration(20 * time.Second), MaxRedirects: 3,
		},
		Politeness: wildwatch.Politeness{RequestsPerSecond: 0.5, Concurrency: 1, ObeyRobots: &yes},
		UserAgent:  "wildwatch-demo/1 (+https://wildwatch.example/bot)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseTarget:\n got %+v\nwant %+v", got, want)
	}
}

// base is a minimal valid target; cases below change it line by line.
const base = `name: shop
allowed_hosts: [shop.example]
start_urls:
  - https://shop.example/list
selectors:
  listing_links: a.item
  fields:
    title: h1
`

func TestParseTargetErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		yaml   string
		line   int
		field  string
		reason string // substring of Reason
	}{
		{"unknown root key", base + "colour: red\n", 9, "colour", "unknown key"},
		{"unknown nested key", strings.Replace(base, "    title: h1", "    title: h1\n    titel: h2", 1), 9, "selectors.fields.titel", "unknown key"},
		{"duplicate key", base + "name: other\n", 9, "name", "duplicate key"},
		{"missing name", strings.Replace(base, "name: shop\n", "", 1), 1, "name", "required"},
		{"empty name", strings.Replace(base, "name: shop", `name: ""`, 1), 1, "name", "required"},
		{"bad name", strings.Replace(base, "name: shop", "name: Shop!", 1), 1, "name", "must match"},
		{"missing allowed_hosts", strings.Replace(base, "allowed_hosts: [shop.example]\n", "", 1), 1, "allowed_hosts", "required"},
		{"empty allowed_hosts", strings.Replace(base, "[shop.example]", "[]", 1), 2, "allowed_hosts", "required"},
		{"host with scheme", strings.Replace(base, "allowed_hosts: [shop.example]", "allowed_hosts:\n  - shop.example\n  - https://x.example/", 1), 4, "allowed_hosts[1]", "not a host name"},
		{"no start", strings.Replace(base, "start_urls:\n  - https://shop.example/list\n", "", 1), 1, "start_urls", "at least one start URL or a search"},
		{"relative start URL", strings.Replace(base, "https://shop.example/list", "/list", 1), 4, "start_urls[0]", "not an absolute http(s) URL"},
		{"ftp start URL", strings.Replace(base, "https://shop.example/list", "ftp://shop.example/list", 1), 4, "start_urls[0]", "not an absolute http(s) URL"},
		{"start URL on other host", strings.Replace(base, "https://shop.example/list", "https://other.example/list", 1), 4, "start_urls[0]", `host "other.example" is not in allowed_hosts`},
		{"start_urls not a list", strings.Replace(base, "start_urls:\n  - https://shop.example/list", "start_urls: https://shop.example/list", 1), 3, "start_urls", "want a list"},
		{"search without {query}", base + "search:\n  url_template: https://shop.example/s?q=\n  queries: [ivory]\n", 10, "search.url_template", "must contain {query}"},
		{"search template on other host", base + "search:\n  url_template: https://evil.example/s?q={query}\n  queries: [ivory]\n", 10, "search.url_template", "not in allowed_hosts"},
		{"search without template", base + "search:\n  queries: [ivory]\n", 9, "search.url_template", "required"},
		{"search without queries", base + "search:\n  url_template: https://shop.example/s?q={query}\n", 9, "search.queries", "required"},
		{"search with empty queries", base + "search:\n  url_template: https://shop.example/s?q={query}\n  queries: []\n", 11, "search.queries", "required"},
		{"blank query", base + "search:\n  url_template: https://shop.example/s?q={query}\n  queries:\n    - ivory\n    - \"  \"\n", 13, "search.queries[1]", "empty query"},
		{"missing listing_links", strings.Replace(base, "  listing_links: a.item\n", "", 1), 5, "selectors.listing_links", "required"},
		{"missing selectors", strings.Replace(base, "selectors:\n  listing_links: a.item\n  fields:\n    title: h1\n", "", 1), 1, "selectors.listing_links", "required"},
		{"missing title", strings.Replace(base, "    title: h1\n", "    price: .price\n", 1), 7, "selectors.fields.title", "required"},
		{"bad selector", strings.Replace(base, "title: h1", "title: \"h1[\"", 1), 8, "selectors.fields.title", "bad selector"},
		{"bad next_page selector", base + "  next_page: \"a:nth-child(x)\"\n", 9, "selectors.next_page", "bad selector"},
		{"negative max_pages", base + "limits:\n  max_pages: -1\n", 10, "limits.max_pages", "must not be negative"},
		{"negative timeout", base + "limits:\n  timeout: -5s\n", 10, "limits.timeout", "must not be negative"},
		{"negative concurrency", base + "politeness:\n  concurrency: -2\n", 10, "politeness.concurrency", "must not be negative"},
		{"bad duration", base + "limits:\n  timeout: soon\n", 10, "limits.timeout", "invalid duration"},
		{"wrong type", base + "limits:\n  max_pages: many\n", 10, "limits.max_pages", "cannot unmarshal"},
		{"limits not a mapping", base + "limits: 5\n", 9, "limits", "want a mapping"},
		{"control character in user agent", base + "user_agent: \"bot\\r\\nX-Evil: 1\"\n", 9, "user_agent", "control character"},
		{"bad render", base + "render: always\n", 9, "render", "not static, browser or auto"},
		{"bad wait", base + "browser:\n  wait: idle\n", 10, "browser.wait", "not selector, network_idle or load"},
		{"bad wait selector", base + "browser:\n  wait_selector: \"div[\"\n", 10, "browser.wait_selector", "bad selector"},
		{"negative max_wait", base + "browser:\n  max_wait: -1s\n", 10, "browser.max_wait", "must not be negative"},
		{"negative extra_wait", base + "browser:\n  extra_wait: -2s\n", 10, "browser.extra_wait", "must not be negative"},
		{"negative max_scrolls", base + "browser:\n  scroll: true\n  max_scrolls: -1\n", 11, "browser.max_scrolls", "must not be negative"},
		{"tiny viewport", base + "browser:\n  viewport: {width: 10, height: 800}\n", 10, "browser.viewport.width", "not between 100 and 10000"},
		{"huge viewport", base + "browser:\n  viewport:\n    height: 50000\n", 11, "browser.viewport.height", "not between 100 and 10000"},
		{"negative viewport", base + "browser:\n  viewport:\n    width: -1280\n", 11, "browser.viewport.width", "not between"},
		{"bad block_resources", base + "browser:\n  block_resources: [font, script]\n", 10, "browser.block_resources[1]", "not media, font, image or stylesheet"},
		{"resource host with scheme", base + "browser:\n  resource_hosts:\n    - https://cdn.example\n", 11, "browser.resource_hosts[0]", "not a host name"},
		{"relative render path", base + "browser:\n  render_paths: [item/]\n", 10, "browser.render_paths[0]", "not a path starting with /"},
		{"unclosed flow mapping", base + "politeness: {concurrency: 1\n", 9, "", "did not find expected ',' or '}'"},
		{"colon in plain value", base + "platform: a: b\n", 9, "", "mapping values are not allowed"},
		{"unclosed quote", base + "platform: \"Shop\n", 9, "", "found unexpected end of stream"},
		{"unclosed flow sequence at the end", "name: [shop\n", 2, "", "did not find expected"},
		{"tab indentation", "name: shop\n\tallowed_hosts: []\n", 2, "", "tab character"},
		{"empty document", "", 1, "", "empty document"},
		{"two documents", base + "---\nname: again\n", 9, "", "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTarget("shop.yaml", []byte(tt.yaml))
			var te *TargetError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTarget error = %v, want a *TargetError", err)
			}
			if te.File != "shop.yaml" || te.Line != tt.line || te.Field != tt.field || !strings.Contains(te.Reason, tt.reason) {
				t.Errorf("ParseTarget error = %#v\nwant file shop.yaml, line %d, field %q, reason containing %q", te, tt.line, tt.field, tt.reason)
			}
		})
	}
}

func TestTargetErrorString(t *testing.T) {
	t.Parallel()
	yaml := strings.Replace(base, "  listing_links: a.item\n", "", 1)
	_, err := ParseTarget("demo-target.yaml", []byte(yaml))
	if err == nil {
		t.Fatal("ParseTarget: no error")
	}
	if got, want := err.Error(), "demo-target.yaml:5: selectors.listing_links: required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	te := &TargetError{File: "x.yaml", Line: 3, Reason: "bad"}
	if got, want := te.Error(), "x.yaml:3: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseTargetBrowser(t *testing.T) {
	t.Parallel()
	yaml := base + `render: browser
browser:
  wait: network_idle
  wait_selector: "#results .item"
  max_wait: 15s
  extra_wait: 500ms
  scroll: true
  max_scrolls: 5
  viewport: {width: 1366, height: 768}
  block_resources: [media, font, image, stylesheet]
  resource_hosts: [cdn.shop.example, 203.0.113.7]
  render_paths: [/item/, /search]
`
	got, err := ParseTarget("shop.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("ParseTarget: %v", err)
	}
	want := wildwatch.BrowserSettings{
		Wait:           wildwatch.WaitNetworkIdle,
		WaitSelector:   "#results .item",
		MaxWait:        wildwatch.Duration(15 * time.Second),
		ExtraWait:      wildwatch.Duration(500 * time.Millisecond),
		Scroll:         true,
		MaxScrolls:     5,
		Viewport:       wildwatch.Viewport{Width: 1366, Height: 768},
		BlockResources: []string{"media", "font", "image", "stylesheet"},
		ResourceHosts:  []string{"cdn.shop.example", "203.0.113.7"},
		RenderPaths:    []string{"/item/", "/search"},
	}
	if got.Render != wildwatch.RenderBrowser || !reflect.DeepEqual(got.Browser, want) {
		t.Errorf("render %q, browser %+v\nwant browser, %+v", got.Render, got.Browser, want)
	}
}

func TestParseTargetMinimal(t *testing.T) {
	t.Parallel()
	got, err := ParseTarget("shop.yaml", []byte(base+"politeness:\n  requests_per_second: -1\n  obey_robots: false\n"))
	if err != nil {
		t.Fatalf("ParseTarget: %v", err)
	}
	if got.Name != "shop" || got.Selectors.Fields.Title != "h1" || got.Search != nil {
		t.Errorf("ParseTarget = %+v", got)
	}
	if got.ObeysRobots() || got.Politeness.RequestsPerSecond != -1 {
		t.Errorf("politeness = %+v, want robots off and no rate limit", got.Politeness)
	}
	if got.Limits != (wildwatch.Limits{}) {
		t.Errorf("limits = %+v, want zero (defaults are not applied)", got.Limits)
	}
}
