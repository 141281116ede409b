package rules

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/wildwatch/wildwatch"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testCase is a listing written to test the default pack: the disguises
// sellers use and the traps honest listings fall into, in every language.
type testCase struct {
	wildwatch.Listing
	Want     string `json:"want"` // flag, review or none
	Category string `json:"category"`
	Note     string `json:"note"`
}

func readCases(t *testing.T) []testCase {
	t.Helper()
	b, err := os.ReadFile("testdata/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []testCase
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		var c testCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("testdata/cases.jsonl:%d: %v", line, err)
		}
		out = append(out, c)
	}
	return out
}

func TestDefaultPackCases(t *testing.T) {
	t.Parallel()
	m := defaultMatcher(t)
	for _, c := range readCases(t) {
		v := m.Match(c.Listing)
		got := "none"
		switch {
		case v.Flagged:
			got = "flag"
		case v.Review:
			got = "review"
		}
		if got != c.Want || (got != "none" && c.Category != "" && v.Category != c.Category) {
			t.Errorf("%s %q (%s): got %s %s %.2f, want %s %s\n  matches %v\n  exclusions %v",
				c.ID, c.Title, c.Note, got, v.Category, v.Score, c.Want, c.Category, brief(v.Matches), brief(v.Exclusions))
		}
	}
}

// TestMatchLinesGolden runs MatchLines over the test cases and compares
// with testdata/cases.golden.jsonl; -update rewrites it.
func TestMatchLinesGolden(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile("testdata/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := MatchLines(context.Background(), defaultMatcher(t), bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/cases.golden.jsonl"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		gl := bytes.Split(want, []byte("\n"))
		ol := bytes.Split(out.Bytes(), []byte("\n"))
		for i := 0; i < len(ol) || i < len(gl); i++ {
			var g, o []byte
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(ol) {
				o = ol[i]
			}
			if !bytes.Equal(g, o) {
				t.Fatalf("line %d differs from %s (run go test -update if the change is intended):\ngot  %s\nwant %s", i+1, golden, o, g)
			}
		}
	}
}
