package demosite

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wildwatch/wildwatch"
)

var update = flag.Bool("update", false, "rewrite deploy/examples/demo-target.yaml from TargetYAML")

// targetFile is the demo target shipped with the deployment examples.
var targetFile = filepath.Join("..", "deploy", "examples", "demo-target.yaml")

func yamlDecoder(src []byte) *yaml.Decoder {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	return dec
}

// TestTargetFile keeps deploy/examples/demo-target.yaml equal to
// TargetYAML(DefaultBaseURL); -update rewrites the file.
func TestTargetFile(t *testing.T) {
	want := TargetYAML(DefaultBaseURL)
	if *update {
		if err := os.WriteFile(targetFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(targetFile)
	if err != nil {
		t.Fatalf("%v (run go test ./demosite -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from TargetYAML(%q); run go test ./demosite -update", targetFile, DefaultBaseURL)
	}
}

func TestTargetYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base      string
		wantHosts []string
	}{
		{DefaultBaseURL, []string{"127.0.0.1", "localhost"}},
		{"http://127.0.0.1:41234/", []string{"127.0.0.1", "localhost"}},
		{"http://localhost:8080", []string{"127.0.0.1", "localhost"}},
		{"http://demo.internal:9000", []string{"demo.internal", "127.0.0.1", "localhost"}},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			src := TargetYAML(tt.base)
			tg := parseTarget(t, src)
			base := strings.TrimRight(tt.base, "/")
			if tg.Name != "demo" || tg.Platform != "demo-market" {
				t.Errorf("name %q platform %q", tg.Name, tg.Platform)
			}
			if !slices.Equal(tg.AllowedHosts, tt.wantHosts) {
				t.Errorf("allowed_hosts %v, want %v", tg.AllowedHosts, tt.wantHosts)
			}
			wantIndex := []string{base + "/category/all", base + jsSearchPath}
			for _, q := range searchQueries {
				wantIndex = append(wantIndex, base+"/search?q="+queryEscape(q))
			}
			if got := tg.IndexURLs(); !slices.Equal(got, wantIndex) {
				t.Errorf("index URLs %v, want %v", got, wantIndex)
			}
			if strings.Contains(string(src), "8090") != strings.Contains(tt.base, "8090") {
				t.Errorf("base URL not replaced everywhere:\n%s", src)
			}
			p := tg.Politeness
			if !tg.ObeysRobots() || !p.AllowPrivate || p.RequestsPerSecond != 20 || p.Concurrency != 4 {
				t.Errorf("politeness %+v", p)
			}
			// The file's comments say the "all" category has fewer than 25
			// pages and the site links to fewer than 450 listings.
			site := New(Config{})
			entries, js := len(site.cat.entries), len(site.cat.js())
			if entries > 24*PageSize || entries+js >= 450 {
				t.Errorf("%d index entries and %d JS listings: update the comments on the limits", entries, js)
			}
			if tg.Limits.MaxListings != 1000 || tg.Limits.MaxPages*PageSize < entries {
				t.Errorf("limits %+v too small for the site", tg.Limits)
			}
			// Auto mode finds the JS pages by itself, and the search page
			// is scrolled far enough to show every JS listing.
			br := tg.Browser
			if tg.Render != wildwatch.RenderAuto || br.Wait != wildwatch.WaitSelector || br.WaitSelector != "" ||
				time.Duration(br.MaxWait) != 8*time.Second || !br.Scroll || br.RenderPaths != nil || br.BlockResources != nil {
				t.Errorf("render %q, browser %+v", tg.Render, br)
			}
			if scrolls := jsScrolls(js); scrolls < 1 || br.MaxScrolls < scrolls || scrolls != jsScrolls(jsListingCount()) {
				t.Errorf("max_scrolls %d; the search page needs %d", br.MaxScrolls, scrolls)
			}
			if time.Duration(br.MaxWait) <= jsItemDelay || time.Duration(br.MaxWait) >= time.Duration(tg.WithDefaults().Limits.Timeout) {
				t.Errorf("max_wait %v should lie between the JS pages' delay and the request timeout", br.MaxWait)
			}
			if tg.UserAgent != "" {
				t.Errorf("user_agent %q, want the default", tg.UserAgent)
			}
		})
	}
}
