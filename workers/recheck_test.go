package workers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// etagSite serves three listings: /item/1 with an ETag (and answers 304
// to a matching If-None-Match), /item/2 without validators, /item/3 whose
// content changes on every request; gone lists the paths that answer 404.
type etagSite struct {
	*httptest.Server
	mu          sync.Mutex
	gets        map[string]int
	conditional map[string][]string // path → If-None-Match values received
	notModified int
	item3       int
	gone        map[string]bool
}

func newETagSite(t *testing.T) *etagSite {
	s := &etagSite{gets: map[string]int{}, conditional: map[string][]string{}, gone: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.gets[r.URL.Path]++
		if v := r.Header.Get("If-None-Match"); v != "" {
			s.conditional[r.URL.Path] = append(s.conditional[r.URL.Path], v)
		}
		if r.Header.Get("If-Modified-Since") != "" && r.URL.Path != "/item/1" {
			t.Errorf("%s: If-Modified-Since sent, though its answer had no Last-Modified", r.URL.Path)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if s.gone[r.URL.Path] {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		case "/search":
			fmt.Fprint(w, `<a class="l" href="/item/1">1</a><a class="l" href="/item/2">2</a><a class="l" href="/item/3">3</a>`)
		case "/item/1":
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Last-Modified", "Sat, 01 Mar 2025 10:00:00 GMT")
			if r.Header.Get("If-None-Match") == `"v1"` {
				s.notModified++
				w.WriteHeader(http.StatusNotModified)
				return
			}
			fmt.Fprint(w, `<html lang="en"><h1 class="t">Carved ivory tusk</h1></html>`)
		case "/item/2":
			fmt.Fprint(w, `<html lang="en"><h1 class="t">Mountain bike</h1></html>`)
		case "/item/3":
			s.item3++
			fmt.Fprintf(w, `<html lang="en"><h1 class="t">Garden chair, version %d</h1></html>`, s.item3)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// TestRevisitInterval sweeps a target with a revisit interval again and
// again: within the interval an unchanged listing is checked, not captured
// again (a 304 to the ETag of its last capture, or the same content), a
// changed one is captured, and a removed one is still found removed; past
// the interval every listing is captured again.
func TestRevisitInterval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var ahead atomic.Int64 // how far the workers' clock runs ahead
	b := newStackWith(t, 2, func(c *workers.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	s := newETagSite(t)
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	tg := wildwatch.Target{
		Name: "revisit", AllowedHosts: []string{host}, StartURLs: []string{s.URL + "/search"},
		Selectors:  wildwatch.Selectors{ListingLinks: "a.l", Fields: wildwatch.FieldSelectors{Title: "h1.t"}},
		Politeness: wildwatch.Politeness{RequestsPerSecond: -1, AllowPrivate: true},
		Revisit:    wildwatch.Interval(7 * 24 * time.Hour),
	}
	u := func(p string) string { return s.URL + p }

	s1 := b.sweep(t, tg)
	if s1.Counts.New != 3 || s1.Counts.Checked != 0 {
		t.Fatalf("first sweep %+v", s1.Counts)
	}
	first := capturesByURL(t, b, s1.ID)

	// Within the interval.
	s2 := b.sweep(t, tg)
	if c := s2.Counts; c.Captures != 1 || c.Changed != 1 || c.Checked != 2 || c.Listings != 3 {
		t.Errorf("second sweep %+v; want item 3 captured as changed, items 1 and 2 checked", c)
	}
	checks, err := b.catalog.ListingChecks(ctx, s2.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	byURL := map[string]wildwatch.ListingCheck{}
	for _, k := range checks {
		byURL[k.URL] = k
	}
	if k := byURL[u("/item/1")]; k.Status != http.StatusNotModified || k.Result != wildwatch.CheckNotModified ||
		k.IfNoneMatch != `"v1"` || k.IfModifiedSince == "" || k.CaptureID != first[u("/item/1")].Capture.ID {
		t.Errorf("check of item 1 %+v", k)
	}
	if k := byURL[u("/item/2")]; k.Status != http.StatusOK || k.Result != wildwatch.CheckSameContent ||
		k.IfNoneMatch != "" || k.CaptureID != first[u("/item/2")].Capture.ID {
		t.Errorf("check of item 2 %+v", k)
	}
	s.mu.Lock()
	if s.notModified != 1 || len(s.conditional["/item/1"]) != 1 || len(s.conditional["/item/2"]) != 0 {
		t.Errorf("304s %d, conditional requests %v", s.notModified, s.conditional)
	}
	s.mu.Unlock()
	l1, err := b.catalog.GetListing(ctx, tg.Name, u("/item/1"))
	if err != nil || l1.LastCapture != first[u("/item/1")].Capture.ID || l1.Captures != 1 {
		t.Errorf("item 1 after its check: %+v, %v", l1, err)
	}
	flags, err := b.catalog.ListFlags(ctx, storage.FlagFilter{SweepID: s2.ID})
	if err != nil || len(flags) != 0 {
		t.Errorf("flags of the second sweep %v, %v; the ivory tusk was flagged by the first", flags, err)
	}

	// A listing removed within the interval is found removed.
	s.mu.Lock()
	s.gone["/item/2"] = true
	s.mu.Unlock()
	s3 := b.sweep(t, tg)
	if c := s3.Counts; c.Removed != 1 || c.Checked != 1 || c.Changed != 1 {
		t.Errorf("third sweep %+v; want item 2 removed, item 1 checked, item 3 changed", c)
	}

	// Past the interval every listing still there is captured again.
	ahead.Store(int64(8 * 24 * time.Hour))
	s4 := b.sweep(t, tg)
	if c := s4.Counts; c.Checked != 0 || c.Captures != 2 || c.Unchanged != 1 || c.Changed != 1 {
		t.Errorf("sweep past the interval %+v; want items 1 and 3 captured", c)
	}
	s.mu.Lock()
	if n := len(s.conditional["/item/1"]); n != 2 {
		t.Errorf("item 1 asked for conditionally %d times, want 2 (within the interval only)", n)
	}
	s.mu.Unlock()
}
