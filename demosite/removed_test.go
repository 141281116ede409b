package demosite

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestRemove takes listings off the site each way: index pages and the JS
// search stop linking them, their pages answer as asked, and Restore puts
// them back.
func TestRemove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var static, js Listing
	for _, l := range b.site.Listings() {
		switch {
		case l.JS && js.ID == "" && l.Reachable:
			js = l
		case !l.JS && static.ID == "" && strings.HasPrefix(l.Path, "/item/") && l.Reachable:
			static = l
		}
	}
	if static.ID == "" || js.ID == "" {
		t.Fatal("no static or JS listing to remove")
	}
	linked := func(path string) bool {
		for p := 1; ; p++ {
			resp, body := b.get(t, http.MethodGet, "/category/all?page="+strconv.Itoa(p))
			if resp.StatusCode != http.StatusOK {
				return false
			}
			if strings.Contains(string(body), `href="`+path+`"`) {
				return true
			}
		}
	}
	jsLinked := func(path string) bool {
		for offset := 0; ; {
			resp, body := b.get(t, http.MethodGet, "/api/js/search?offset="+strconv.Itoa(offset))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("JS search at %d: %d", offset, resp.StatusCode)
			}
			var page struct {
				Results []struct{ Href string }
				Next    *int
			}
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Results {
				if r.Href == path {
					return true
				}
			}
			if page.Next == nil {
				return false
			}
			offset = *page.Next
		}
	}
	if !linked(static.Path) || !jsLinked(js.Path) {
		t.Fatal("listings are not linked before their removal")
	}

	tests := []struct {
		how    Removal
		status int
		says   string
	}{
		{RemovedNotFound, http.StatusNotFound, "Not found"},
		{RemovedGone, http.StatusGone, "gone for good"},
		{RemovedNotice, http.StatusOK, "This listing has been removed by the seller."},
	}
	for _, tc := range tests {
		for _, l := range []Listing{static, js} {
			if err := b.site.Remove(l.ID, tc.how); err != nil {
				t.Fatal(err)
			}
			resp, body := b.get(t, http.MethodGet, l.Path)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.says) {
				t.Errorf("removed %s (%d) answers %d: %s", l.Path, tc.how, resp.StatusCode, body)
			}
			if strings.Contains(string(body), `class="title"`) || strings.Contains(string(body), l.Title) {
				t.Errorf("removed %s still shows its listing", l.Path)
			}
		}
		if linked(static.Path) || jsLinked(js.Path) {
			t.Errorf("removed listings are still linked (%d)", tc.how)
		}
		if resp, _ := b.get(t, http.MethodGet, "/api/js/item/"+js.ID); resp.StatusCode != http.StatusNotFound {
			t.Errorf("API of a removed JS listing answers %d", resp.StatusCode)
		}
	}

	for _, l := range []Listing{static, js} {
		b.site.Restore(l.ID)
		if resp, body := b.get(t, http.MethodGet, l.Path); resp.StatusCode != http.StatusOK || strings.Contains(string(body), "removed by the seller") {
			t.Errorf("restored %s answers %d", l.Path, resp.StatusCode)
		}
	}
	if !linked(static.Path) || !jsLinked(js.Path) {
		t.Error("restored listings are not linked")
	}
	if err := b.site.Remove("nope", RemovedGone); !errors.Is(err, ErrNoListing) {
		t.Errorf("Remove(unknown) = %v", err)
	}
}
