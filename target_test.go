package wildwatch_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func TestIndexURLs(t *testing.T) {
	t.Parallel()
	tg := wildwatch.Target{
		StartURLs: []string{"https://m.example/cat/antiques"},
		Search:    &wildwatch.Search{URLTemplate: "https://m.example/s?q={query}&p=1", Queries: []string{"ivory", "象牙", "a&b c"}},
	}
	want := []string{
		"https://m.example/cat/antiques",
		"https://m.example/s?q=ivory&p=1",
		"https://m.example/s?q=%E8%B1%A1%E7%89%99&p=1",
		"https://m.example/s?q=a%26b+c&p=1",
	}
	if got := tg.IndexURLs(); !slices.Equal(got, want) {
		t.Fatalf("IndexURLs() = %q, want %q", got, want)
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	no := false
	tg := wildwatch.Target{Limits: wildwatch.Limits{MaxPages: 3}, Politeness: wildwatch.Politeness{ObeyRobots: &no, RequestsPerSecond: -1}}.WithDefaults()
	switch {
	case tg.Limits.MaxPages != 3, tg.Limits.MaxListings != wildwatch.DefaultMaxListings:
		t.Errorf("limits %+v", tg.Limits)
	case time.Duration(tg.Limits.Timeout) != wildwatch.DefaultTimeout:
		t.Errorf("timeout %v", tg.Limits.Timeout)
	case tg.ObeysRobots(), tg.Politeness.RequestsPerSecond != -1, tg.Politeness.Concurrency != wildwatch.DefaultConcurrency:
		t.Errorf("politeness %+v", tg.Politeness)
	case tg.UserAgent != wildwatch.DefaultUserAgent:
		t.Errorf("user agent %q", tg.UserAgent)
	}
	if !(wildwatch.Target{}).ObeysRobots() {
		t.Error("robots.txt must be obeyed by default")
	}
}

func TestDurationText(t *testing.T) {
	t.Parallel()
	var d wildwatch.Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || time.Duration(d) != 90*time.Second {
		t.Fatalf("UnmarshalText: %v %v", d, err)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Fatal("UnmarshalText accepted \"soon\"")
	}
	if b, _ := d.MarshalText(); string(b) != "1m30s" {
		t.Fatalf("MarshalText: %s", b)
	}
}
