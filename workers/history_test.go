package workers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/internal/warciotest"
	"github.com/wildwatch/wildwatch/storage"
)

// demoSite serves the demo marketplace and counts the requests for each
// path.
type demoSite struct {
	*httptest.Server
	site *demosite.Site
	mu   sync.Mutex
	hits map[string]int
}

func startDemo(t *testing.T) *demoSite {
	d := &demoSite{hits: map[string]int{}}
	d.site = demosite.New(demosite.Config{SlowDelay: time.Millisecond, Log: func(r *http.Request) {
		d.mu.Lock()
		d.hits[r.URL.Path]++
		d.mu.Unlock()
	}})
	d.Server = httptest.NewServer(d.site)
	t.Cleanup(d.Close)
	return d
}

// takeHits returns the request counts so far and starts counting afresh.
func (d *demoSite) takeHits() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.hits
	d.hits = map[string]int{}
	return h
}

// demoTarget is the demo target fetched statically (its JavaScript section
// is then empty), without politeness delays.
func demoTarget(t *testing.T, baseURL string) wildwatch.Target {
	t.Helper()
	tg, err := crawler.ParseTarget("demo-target.yaml", demosite.TargetYAML(baseURL))
	if err != nil {
		t.Fatal(err)
	}
	tg.Render = wildwatch.RenderStatic
	tg.Politeness.RequestsPerSecond = -1
	tg.Politeness.Concurrency = 16
	return tg
}

// TestSweepHistory sweeps the demo marketplace again and again: the second
// sweep finds every listing unchanged, keeps revisit records that warcio
// reads, and flags nothing twice; listings taken off the site (404, 410, a
// removal notice) are found removed by the third sweep, with evidence,
// though the index no longer links them; broken links stay errors; the
// fourth sweep leaves the removed listings alone; and each listing's
// history lists its captures in order.
func TestSweepHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newStack(t, 8)
	d := startDemo(t)
	tg := demoTarget(t, d.URL)

	// 1: everything is new.
	s1 := b.sweep(t, tg)
	c1 := s1.Counts
	if c1.Captures < 100 || c1.New != c1.Captures || c1.Changed+c1.Unchanged+c1.Removed != 0 || c1.Flags == 0 || c1.Errors == 0 {
		t.Fatalf("first sweep counts %+v; want only new captures, some flags and errors (broken links)", c1)
	}
	errs1 := sweepErrorURLs(t, b, s1.ID)
	hits1 := d.takeHits()
	first := capturesByURL(t, b, s1.ID)

	// 2: nothing changed.
	s2 := b.sweep(t, tg)
	c2 := s2.Counts
	want2 := wildwatch.SweepCounts{Pages: c1.Pages, Listings: c1.Listings, Captures: c1.Captures, Errors: c1.Errors, Unchanged: c1.Captures,
		ErrorsByKind: c1.ErrorsByKind}
	if !reflect.DeepEqual(c2, want2) {
		t.Errorf("second sweep counts %+v, want %+v", c2, want2)
	}
	hits2 := d.takeHits()
	for p, n := range hits1 {
		if strings.HasPrefix(p, "/item/") && hits2[p] != n {
			t.Errorf("%s fetched %d times by the first sweep, %d by the second (known listings are one task with those the index finds)", p, n, hits2[p])
		}
	}
	second := capturesByURL(t, b, s2.ID)
	module := warciotest.Install(t)
	read := 0
	for u, rec := range second {
		orig := first[u]
		if rec.Change != wildwatch.ChangeUnchanged || rec.RefersTo != orig.Capture.ID || rec.PayloadDigest != orig.PayloadDigest {
			t.Errorf("%s: second capture %s refers to %q (change %q); want an unchanged revisit of %s", u, rec.Capture.ID, rec.RefersTo, rec.Change, orig.Capture.ID)
			continue
		}
		if rec.Verdict.Flagged != orig.Verdict.Flagged || rec.Verdict.Score != orig.Verdict.Score {
			t.Errorf("%s: verdict changed on unchanged content: %+v, then %+v", u, orig.Verdict, rec.Verdict)
		}
		x, err := storage.ReadCaptureExchange(ctx, b.store, rec.WARCKey)
		if err != nil || x.ResponseRecord != "revisit" || x.PayloadDigest != orig.PayloadDigest {
			t.Errorf("%s: WARC %s has %+v, %v; want a revisit record", u, rec.WARCKey, x, err)
			continue
		}
		ox, err := storage.ReadCaptureExchange(ctx, b.store, orig.WARCKey)
		if err != nil || x.RefersTo != ox.RecordID || ox.ResponseRecord != "response" {
			t.Errorf("%s: revisit refers to %s; the first capture's response is %+v, %v", u, x.RefersTo, ox, err)
		}
		if r, err := storage.VerifyCapture(ctx, b.store, rec.ManifestKey, b.pub); err != nil || !r.OK {
			t.Errorf("%s: unchanged capture does not verify: %+v %v", u, r, err)
		}
		if read < 3 { // warcio is slow to start: a few WARCs are enough
			read++
			recs := warciotest.Read(t, module, filepath.Join(b.store.Root(), filepath.FromSlash(rec.WARCKey)))
			if len(recs) != 4 || recs[2].Type != "revisit" || recs[2].RefersTo != "<"+ox.RecordID+">" ||
				recs[2].PayloadDigest != orig.PayloadDigest || recs[2].Status != rec.Capture.Status {
				t.Errorf("%s: warcio read %+v", u, recs)
			}
		}
	}
	if len(second) != len(first) {
		t.Errorf("second sweep captured %d listings, the first %d", len(second), len(first))
	}

	// Three listings are taken down, each its own way.
	removals := map[string]demosite.Removal{}
	hows := []demosite.Removal{demosite.RemovedNotFound, demosite.RemovedGone, demosite.RemovedNotice}
	for _, l := range d.site.Listings() {
		u := d.URL + l.Path
		if _, ok := first[u]; !ok || l.Label != demosite.LabelPositive || len(removals) == len(hows) {
			continue
		}
		how := hows[len(removals)]
		if err := d.site.Remove(l.ID, how); err != nil {
			t.Fatal(err)
		}
		removals[u] = how
	}
	if len(removals) != len(hows) {
		t.Fatalf("found %d listings to remove", len(removals))
	}

	// 3: the removed listings are checked though no index links them.
	s3 := b.sweep(t, tg)
	c3 := s3.Counts
	want3 := wildwatch.SweepCounts{Pages: c1.Pages, Listings: c1.Listings, Captures: c1.Captures, Errors: c1.Errors,
		Unchanged: c1.Captures - len(removals), Removed: len(removals), ErrorsByKind: c1.ErrorsByKind}
	if !reflect.DeepEqual(c3, want3) {
		t.Errorf("third sweep counts %+v, want %+v", c3, want3)
	}
	if errs3 := sweepErrorURLs(t, b, s3.ID); !sameSet(errs3, errs1) {
		t.Errorf("third sweep errors %v, the first's %v: broken links must stay errors", errs3, errs1)
	}
	third := capturesByURL(t, b, s3.ID)
	wantStatus := map[demosite.Removal]int{demosite.RemovedNotFound: 404, demosite.RemovedGone: 410, demosite.RemovedNotice: 200}
	for u, how := range removals {
		rec, ok := third[u]
		if !ok || rec.Change != wildwatch.ChangeRemoved || rec.Capture.Status != wantStatus[how] || rec.Verdict.Flagged ||
			!strings.HasPrefix(rec.Capture.ModeReason, "listing removed: ") {
			t.Errorf("%s (removal %d): third capture %+v", u, how, rec)
			continue
		}
		if r, err := storage.VerifyCapture(ctx, b.store, rec.ManifestKey, b.pub); err != nil || !r.OK {
			t.Errorf("%s: removal evidence does not verify: %+v %v", u, r, err)
		}
		x, err := storage.ReadCaptureExchange(ctx, b.store, rec.WARCKey)
		if err != nil || x.ResponseRecord != "response" || x.Status != wantStatus[how] {
			t.Errorf("%s: removal WARC holds %+v, %v; want the response in full", u, x, err)
		}
		l, err := b.catalog.GetListing(ctx, tg.Name, u)
		if err != nil || l.State != wildwatch.ListingRemoved || l.RemovedCapture != rec.Capture.ID ||
			l.RemovedAt == nil || !l.RemovedAt.Equal(rec.Capture.FetchedAt.Truncate(time.Microsecond)) || l.LastCapture != second[u].Capture.ID {
			t.Errorf("%s: listing after its removal %+v, %v", u, l, err)
		}
		hist, err := b.catalog.ListingHistory(ctx, tg.Name, u)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hist {
			got = append(got, h.Capture.SweepID+":"+h.Change)
		}
		want := []string{s1.ID + ":new", s2.ID + ":unchanged", s3.ID + ":removed"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: history %v, want %v", u, got, want)
		}
	}
	flags, err := b.catalog.ListFlags(ctx, storage.FlagFilter{SweepID: s3.ID})
	if err != nil || len(flags) != 0 {
		t.Errorf("third sweep raised flags %v, %v", flags, err)
	}

	// 4: removed listings are not checked again.
	d.takeHits()
	s4 := b.sweep(t, tg)
	if c := s4.Counts; c.Listings != c1.Listings-len(removals) || c.Removed != 0 || c.Unchanged != c.Captures {
		t.Errorf("fourth sweep counts %+v", c)
	}
	hits4 := d.takeHits()
	for u := range removals {
		if p := strings.TrimPrefix(u, d.URL); hits4[p] != 0 {
			t.Errorf("removed %s fetched again", p)
		}
	}
}

func capturesByURL(t *testing.T, b *bundle, sweepID string) map[string]storage.CaptureRecord {
	t.Helper()
	caps, err := b.catalog.ListCaptures(context.Background(), sweepID)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]storage.CaptureRecord{}
	for _, c := range caps {
		if _, dup := m[c.Capture.URL]; dup {
			t.Errorf("%s captured twice by sweep %s", c.Capture.URL, sweepID)
		}
		m[c.Capture.URL] = c
	}
	return m
}

func sweepErrorURLs(t *testing.T, b *bundle, sweepID string) []string {
	t.Helper()
	errs, err := b.catalog.SweepErrors(context.Background(), sweepID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Kind+" "+e.URL)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
