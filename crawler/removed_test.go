package crawler

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
)

func TestRemoval(t *testing.T) {
	t.Parallel()
	tg := wildwatch.Target{Name: "shop", Selectors: wildwatch.Selectors{Fields: wildwatch.FieldSelectors{Title: "h1.title"}}}
	custom := tg
	custom.Removed = &wildwatch.RemovedPage{Text: []string{"Anzeige   gelöscht"}}
	banner := tg
	banner.Removed = &wildwatch.RemovedPage{Selector: "div.ended"}
	bannerText := tg
	bannerText.Removed = &wildwatch.RemovedPage{Selector: ".notice", Text: []string{"taken down"}}
	page := func(status int, html string) *wildwatch.Capture {
		return &wildwatch.Capture{URL: "https://shop.example/item/1", Status: status, Text: html}
	}
	tests := []struct {
		name string
		tg   wildwatch.Target
		c    *wildwatch.Capture
		want string
	}{
		{"404", tg, page(404, "<h1>Not found</h1>"), "status 404 not found"},
		{"410", tg, page(410, ""), "status 410 gone"},
		{"500 is an error, not a removal", tg, page(500, "listing has been removed"), ""},
		{"301", tg, page(301, "listing has been removed"), ""},
		{"nil", tg, nil, ""},
		{"default phrase", tg, page(200, `<main><h1>Sorry</h1><p>This listing is no longer
			available.</p></main>`), `page says "listing is no longer available"`},
		{"default phrase, any case", tg, page(200, `<p>THIS ITEM HAS BEEN REMOVED</p>`), `page says "item has been removed"`},
		{"a listing that mentions the phrase is no removal", tg, page(200, `<h1 class="title">Vase</h1><p>The listing has been removed elsewhere</p>`), ""},
		{"script text is not what the page says", tg, page(200, `<div id="app"></div><script>show("This listing is no longer available")</script>`), ""},
		{"live listing", tg, page(200, `<h1 class="title">Carved ivory</h1>`), ""},
		{"custom phrase", custom, page(200, `<p>Diese Anzeige gelöscht.</p>`), `page says "Anzeige   gelöscht"`},
		{"custom phrase replaces the defaults", custom, page(200, `<p>listing has been removed</p>`), ""},
		{"selector alone", banner, page(200, `<h1 class="title">Carved ivory</h1><div class="ended">Ended</div>`), `page has "div.ended"`},
		{"selector absent", banner, page(200, `<h1 class="title">Carved ivory</h1>`), ""},
		{"selector with phrase", bannerText, page(200, `<p class="notice">Cookies</p><p class="notice">This listing was taken down.</p>`), `.notice says "taken down"`},
		{"selector without the phrase", bannerText, page(200, `<p class="notice">Cookies</p><p>taken down</p>`), ""},
		{"rendered DOM is read", tg, &wildwatch.Capture{URL: "https://shop.example/item/1", Status: 200, Text: `<div id="app"></div>`,
			Rendered: &wildwatch.Rendering{DOM: []byte(`<div id="app"><p>This item is no longer available</p></div>`)}}, `page says "item is no longer available"`},
	}
	for _, tc := range tests {
		if got := Removal(tc.tg, tc.c); got != tc.want {
			t.Errorf("%s: Removal = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseTargetRemoved(t *testing.T) {
	t.Parallel()
	got, err := ParseTarget("shop.yaml", []byte(base+"removed:\n  selector: div.notice\n  text:\n    - sold out\n    - removed\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &wildwatch.RemovedPage{Selector: "div.notice", Text: []string{"sold out", "removed"}}
	if !reflect.DeepEqual(got.Removed, want) {
		t.Errorf("removed = %+v, want %+v", got.Removed, want)
	}
	for _, tc := range []struct {
		name, yaml, field, reason string
	}{
		{"bad selector", "removed:\n  selector: \"div[\"\n", "removed.selector", "bad selector"},
		{"blank phrase", "removed:\n  text: [gone, \" \"]\n", "removed.text[1]", "empty phrase"},
		{"unknown key", "removed:\n  status: 404\n", "removed.status", "unknown key"},
	} {
		_, err := ParseTarget("shop.yaml", []byte(base+tc.yaml))
		var te *TargetError
		if !errors.As(err, &te) || te.Field != tc.field || !strings.Contains(te.Reason, tc.reason) {
			t.Errorf("%s: ParseTarget error = %v, want %s: %s", tc.name, err, tc.field, tc.reason)
		}
	}
}
