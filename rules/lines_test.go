package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestMatchLines(t *testing.T) {
	t.Parallel()
	m := compileTest(t)
	in := "\n" +
		`{"id":"x1","title":"ivory bangle","label":"positive","extra":{"nested":[1,2]}}` + "\n" +
		"   \n" +
		`{"id":"x2","title":"Ivory","description":"lamp"}` + "\r\n" +
		`{"id":"x3","title":"garden chair"}`
	var out bytes.Buffer
	if err := MatchLines(context.Background(), m, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		`{"id":"x1","flagged":true,"score":1.1,"category":"ivory","matches":[{"rule":"ivory.word","field":"title","start":0,"end":5,"text":"ivory"},{"rule":"ivory.object","field":"title","start":6,"end":12,"text":"bangle"}]}`,
		`{"id":"x2","flagged":false,"review":true,"score":0.6,"category":"ivory","matches":[{"rule":"ivory.word","field":"title","start":0,"end":5,"text":"Ivory"}]}`,
		`{"id":"x3","flagged":false,"score":0,"category":"","matches":[]}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range lines {
		var r LineResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Errorf("output line %q: %v", l, err)
		}
	}
}

func TestMatchLinesErrors(t *testing.T) {
	t.Parallel()
	m := compileTest(t)
	tests := []struct {
		name    string
		in      string
		want    string
		written int // result lines written before the error
	}{
		{"broken json", "{\"id\":\"a\",\"title\":\"x\"}\n{\"id\": \"b\", \"title\": \n", "line 2: ", 1},
		{"not an object", "\n\n[1, 2]\n", "line 3: not a JSON object", 0},
		{"null", "null\n", "line 1: not a JSON object", 0},
		{"wrong type", "{\"id\":\"a\",\"title\":\"x\"}\n\n{\"title\": 42}\n", "line 3: ", 1},
		{"too long", "{\"title\":\"" + strings.Repeat("a", maxLine) + "\"}\n", "line 1: longer than", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := MatchLines(context.Background(), m, strings.NewReader(tc.in), &out)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one starting %q", err, tc.want)
			}
			if got := strings.Count(out.String(), "\n"); got != tc.written {
				t.Errorf("%d lines written before the error, want %d", got, tc.written)
			}
		})
	}
}

func TestMatchLinesStopsWithContext(t *testing.T) {
	t.Parallel()
	m := compileTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := MatchLines(ctx, m, strings.NewReader(`{"title":"ivory"}`+"\n"), &bytes.Buffer{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func BenchmarkMatch(b *testing.B) {
	m := defaultMatcher(b)
	listings := readDevSet(b)
	bytesIn := 0
	for _, l := range listings {
		for _, f := range l.TextFields() {
			bytesIn += len(f.Value)
		}
	}
	b.SetBytes(int64(bytesIn))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range listings {
			m.Match(l.Listing)
		}
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	rs := Default()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(rs); err != nil {
			b.Fatal(err)
		}
	}
}
