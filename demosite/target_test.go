package demosite

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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
			wantIndex := []string{base + "/category/all"}
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
			// pages and fewer than 400 listings.
			entries := len(New(Config{}).cat.entries)
			if entries > 24*PageSize || entries >= 400 {
				t.Errorf("%d index entries: update the comments on the limits", entries)
			}
			if tg.Limits.MaxListings != 1000 || tg.Limits.MaxPages*PageSize < entries {
				t.Errorf("limits %+v too small for the site", tg.Limits)
			}
			if tg.UserAgent != "" {
				t.Errorf("user_agent %q, want the default", tg.UserAgent)
			}
		})
	}
}
