package main

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/storage"
)

func TestMarkMatches(t *testing.T) {
	t.Parallel()
	m := func(start, end int) wildwatch.Match { return wildwatch.Match{Start: start, End: end} }
	tests := []struct {
		value string
		ms    []wildwatch.Match
		want  string
	}{
		{"Carved ivory tusk", []wildwatch.Match{m(7, 12)}, "Carved «ivory» tusk"},
		{"ivory tusk", []wildwatch.Match{m(6, 10), m(0, 5)}, "«ivory» «tusk»"},
		{"rhino horn cup", []wildwatch.Match{m(0, 10), m(6, 14)}, "«rhino horn cup»"}, // overlapping
		{"象牙手镯", []wildwatch.Match{m(0, 6)}, "«象牙»手镯"},
		{"象牙手镯", []wildwatch.Match{m(1, 6)}, "象牙手镯"}, // not on a character boundary
		{"short", []wildwatch.Match{m(2, 40)}, "short"},
		{"no matches", nil, "no matches"},
	}
	for _, tc := range tests {
		if got := markMatches(tc.value, tc.ms); got != tc.want {
			t.Errorf("markMatches(%q, %v) = %q, want %q", tc.value, tc.ms, got, tc.want)
		}
	}
}

// staticTargetFile writes the demo target fetched statically, without
// politeness delays, so that repeated sweeps are quick and need no browser.
func (d *demo) staticTargetFile(t *testing.T) string {
	t.Helper()
	y := string(demosite.TargetYAML(d.URL))
	for old, repl := range map[string]string{
		"\nrender: auto\n":           "\nrender: static\n",
		"requests_per_second: 20\n":  "requests_per_second: -1\n",
		"  concurrency: 4\n":         "  concurrency: 16\n",
		"\n# user_agent is left out": "\nremoved:\n  text: [\"has been removed by the seller\"]\n# user_agent is left out",
	} {
		if !strings.Contains(y, old) {
			t.Fatalf("demo target has no %q", old)
		}
		y = strings.Replace(y, old, repl, 1)
	}
	p := filepath.Join(t.TempDir(), "demo-static.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestListingHistoryCLI runs the daemon on the embedded defaults and sweeps
// the demo site three times through the CLI, taking a flagged listing off
// the site before the third: `listing history` shows it new, unchanged,
// then removed, and `capture show` prints its text with the matches marked
// and its evidence verified.
func TestListingHistoryCLI(t *testing.T) {
	t.Parallel()
	d := startTestSite(t)
	data := t.TempDir()
	serve := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data, "--retry-delay", "100ms", "--concurrency", "8")
	apiURL := serve.waitLine(t, "API: ", time.Minute)
	token := serve.waitLine(t, "admin token: ", time.Minute)
	client := []string{"WILDWATCH_SERVER=" + apiURL, "WILDWATCH_TOKEN=" + token}
	if out, code := runCLI(t, client, "targets", "apply", d.staticTargetFile(t)); code != 0 {
		t.Fatalf("targets apply: %s", out)
	}
	sweep := func() sweepSummary {
		t.Helper()
		out, code := runCLI(t, client, "sweep", "start", "demo", "--follow")
		var sum sweepSummary
		if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(out)), &sum) != nil || sum.Status != wildwatch.SweepFinished {
			t.Fatalf("sweep start --follow exited %d: %s", code, out)
		}
		return sum
	}

	first := sweep()
	if first.Captures == 0 || first.New != first.Captures || first.Flags == 0 {
		t.Fatalf("first sweep %+v", first)
	}
	out, code := runCLI(t, client, "flags", "list", "--sweep", first.Sweep, "--limit", "1")
	var flags []wildwatch.Flag
	if code != 0 || json.Unmarshal([]byte(out), &flags) != nil || len(flags) != 1 {
		t.Fatalf("flags list: exit %d: %s", code, out)
	}
	flagged := flags[0]
	second := sweep()
	if second.Unchanged != first.Captures || second.Captures != first.Captures || second.Flags != 0 {
		t.Errorf("second sweep %+v; want every capture unchanged and no flag raised again (first %+v)", second, first)
	}

	if err := d.site.Remove(path.Base(flagged.URL), demosite.RemovedNotice); err != nil {
		t.Fatal(err)
	}
	third := sweep()
	if third.Removed != 1 || third.Unchanged != first.Captures-1 {
		t.Errorf("third sweep %+v; want one removal", third)
	}

	out, code = runCLI(t, client, "listing", "history", flagged.URL)
	if code != 0 {
		t.Fatalf("listing history exited %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || lines[0] != flagged.URL || !strings.Contains(lines[1], "target demo: removed") {
		t.Fatalf("listing history:\n%s", out)
	}
	for i, want := range []string{" new ", " unchanged ", " removed "} {
		if !strings.Contains(lines[2+i], want) {
			t.Errorf("history line %d %q, want %q", 2+i, lines[2+i], want)
		}
	}
	if !strings.Contains(lines[2], "flagged") || !strings.Contains(lines[3], "revisit of "+flagged.CaptureID) ||
		!strings.Contains(lines[4], "has been removed by the seller") || !strings.Contains(lines[4], " 200 ") {
		t.Errorf("listing history:\n%s", out)
	}

	out, code = runCLI(t, client, "capture", "show", flagged.CaptureID)
	if code != 0 || !strings.Contains(out, "evidence  verified") || !strings.Contains(out, "«") ||
		!strings.Contains(out, "FLAGGED "+flagged.Category) || !strings.Contains(out, "> GET ") || !strings.Contains(out, "< HTTP/1.1 200 OK") {
		t.Errorf("capture show exited %d:\n%s", code, out)
	}
	var view struct {
		Change       string `json:"change"`
		Verification struct {
			OK bool `json:"ok"`
		} `json:"verification"`
	}
	out, code = runCLI(t, client, "capture", "show", flagged.CaptureID, "--json")
	if code != 0 || json.Unmarshal([]byte(out), &view) != nil || view.Change != wildwatch.ChangeNew || !view.Verification.OK {
		t.Errorf("capture show --json exited %d:\n%s", code, out)
	}
}

// TestSweepRunRenderedTwice sweeps the JavaScript section of the demo site
// twice with `sweep run` on one data directory: the second sweep's
// rendered listings are unchanged, their WARCs hold revisit records, and
// a rendered DOM seen before is not stored again.
func TestSweepRunRenderedTwice(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := startTestSite(t)
	y := string(demosite.TargetYAML(d.URL))
	for old, repl := range map[string]string{
		"  - " + d.URL + "/category/all\n": "",
		"search:\n":                        "x_search:\n",
		"requests_per_second: 20\n":        "requests_per_second: -1\n",
	} {
		if !strings.Contains(y, old) {
			t.Fatalf("demo target has no %q", old)
		}
		y = strings.Replace(y, old, repl, 1)
	}
	// Without its search section the target starts from the JS search page only.
	y = y[:strings.Index(y, "x_search:\n")] + y[strings.Index(y, "# selectors are"):]
	target := filepath.Join(t.TempDir(), "js.yaml")
	if err := os.WriteFile(target, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	run := func() sweepSummary {
		t.Helper()
		out, code := runCLI(t, nil, "sweep", "run", target, "--data", data, "--retry-delay", "100ms", "--page-timeout", "10s")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var sum sweepSummary
		if code != 0 || json.Unmarshal([]byte(lines[len(lines)-1]), &sum) != nil {
			t.Fatalf("sweep run exited %d:\n%s", code, out)
		}
		return sum
	}
	first := run()
	second := run()
	if first.Captures == 0 || first.New != first.Captures || second.Captures != first.Captures || second.New != 0 ||
		second.Unchanged == 0 || second.Unchanged+second.Changed != second.Captures {
		t.Fatalf("sweeps %+v then %+v", first, second)
	}

	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(data, "wildwatch.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	before, err := cat.ListCaptures(ctx, first.Sweep)
	if err != nil {
		t.Fatal(err)
	}
	byURL := map[string]storage.CaptureRecord{}
	for _, c := range before {
		byURL[c.Capture.URL] = c
	}
	after, err := cat.ListCaptures(ctx, second.Sweep)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewDir(filepath.Join(data, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	rendered := 0
	for _, c := range after {
		prev := byURL[c.Capture.URL]
		if c.Capture.Mode != wildwatch.RenderBrowser || c.Change != wildwatch.ChangeUnchanged {
			continue
		}
		rendered++
		if c.DOMKey != prev.DOMKey || c.DOMKey == "" || c.RefersTo != prev.Capture.ID {
			t.Errorf("%s: DOM %s (before %s), refers to %q", c.Capture.URL, c.DOMKey, prev.DOMKey, c.RefersTo)
		}
		x, err := storage.ReadCaptureExchange(ctx, store, c.WARCKey)
		if err != nil || x.ResponseRecord != "revisit" {
			t.Errorf("%s: exchange %+v, %v", c.Capture.URL, x, err)
		}
	}
	if rendered == 0 {
		t.Errorf("no rendered listing was unchanged: %+v", second)
	}
	out, code := runCLI(t, nil, "verify", "--data", data, filepath.Join(data, "evidence"))
	if code != 0 || strings.Count(out, "ok ") != len(before)+len(after) {
		t.Errorf("verify exited %d with %d ok lines for %d captures:\n%s", code, strings.Count(out, "ok "), len(before)+len(after), out)
	}
}
