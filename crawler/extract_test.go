package crawler

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// extractResult is what a golden file in testdata/extract holds.
type extractResult struct {
	PageURL string             `json:"page_url"`
	Links   *Links             `json:"links,omitempty"`
	Listing *wildwatch.Listing `json:"listing,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// TestExtractGolden runs ExtractLinks on testdata/extract/index-*.html and
// ExtractListing on listing-*.html with target.yaml, and compares with the
// .json beside each page. -update rewrites the .json files.
func TestExtractGolden(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "extract")
	data, err := os.ReadFile(filepath.Join(dir, "target.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := ParseTarget("target.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(dir, "*.html"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in %s: %v", dir, err)
	}
	for _, path := range pages {
		name := strings.TrimSuffix(filepath.Base(path), ".html")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			html, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var res extractResult
			switch {
			case strings.HasPrefix(name, "index-"):
				res.PageURL = "https://shop.example/search/ivory?page=1"
				links, err := ExtractLinks(tg, res.PageURL, string(html))
				res.Links = &links
				if err != nil {
					res.Error = err.Error()
				}
			case strings.HasPrefix(name, "listing-"):
				res.PageURL = "https://shop.example/item/" + name
				l, err := ExtractListing(tg, res.PageURL, string(html))
				res.Listing = &l
				if err != nil {
					res.Error = err.Error()
				}
			default:
				t.Fatalf("page %s is neither index-* nor listing-*", name)
			}
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(path, ".html") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file:\n got %s\nwant %s", name, got, want)
			}
		})
	}
}

func TestExtractListingErrors(t *testing.T) {
	t.Parallel()
	tg := wildwatch.Target{Selectors: wildwatch.Selectors{
		ListingLinks: "a",
		Fields:       wildwatch.FieldSelectors{Title: "h1"},
	}}
	if _, err := ExtractListing(tg, "https://shop.example/1", "<p>no heading</p>"); !errors.Is(err, ErrNoTitle) {
		t.Errorf("page without a title: error %v, want ErrNoTitle", err)
	}
	if _, err := ExtractListing(tg, "/relative", "<h1>x</h1>"); err == nil {
		t.Error("relative page URL: no error")
	}
	bad := tg
	bad.Selectors.Fields.Price = "span["
	if _, err := ExtractListing(bad, "https://shop.example/1", "<h1>x</h1>"); err == nil || !strings.Contains(err.Error(), "selectors.fields.price") {
		t.Errorf("bad selector: error %v, want one naming selectors.fields.price", err)
	}
	bad = tg
	bad.Selectors.ListingLinks = "a:nth-child("
	if _, err := ExtractLinks(bad, "https://shop.example/1", "<a href=/x>x</a>"); err == nil {
		t.Error("bad listing_links selector: no error")
	}
	l, err := ExtractListing(wildwatch.Target{Platform: "Shop", Selectors: tg.Selectors}, "https://shop.example/1", "<h1>x</h1>")
	if err != nil || l.Platform != "Shop" || l.Title != "x" {
		t.Errorf("platform from target: %+v, %v", l, err)
	}
}
