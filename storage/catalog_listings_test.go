package storage

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/pgtest"
)

func TestCatalogListingsSQLite(t *testing.T) {
	t.Parallel()
	runListingSuite(t, func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "data", "wildwatch.db")
	})
}

func TestCatalogListingsPostgres(t *testing.T) {
	t.Parallel()
	runListingSuite(t, func(t *testing.T) string { return pgtest.New(t) })
}

// runListingSuite holds SQLite and PostgreSQL to one behaviour for listing
// histories.
func runListingSuite(t *testing.T, newDSN func(t *testing.T) string) {
	s := catalogSuite{newDSN: newDSN}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s catalogSuite)
	}{
		{"History", testCatalogListingHistory},
		{"Found", testCatalogFoundListings},
		{"Upgrade", testCatalogUpgradeListings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

// listingCapture returns a capture of listing u of target market.
func listingCap(sweep, id, u string, at time.Time, change, content string) CaptureRecord {
	rec := catCapture(sweep, id, at)
	rec.Capture.URL = "https://market.example/item/" + u
	rec.Listing.URL = rec.Capture.URL
	rec.Capture.Body, rec.Capture.Text = nil, ""
	rec.Change, rec.ContentDigest, rec.PayloadDigest = change, content, content
	if change == wildwatch.ChangeRemoved {
		rec.Capture.Status = 404
		rec.Listing = wildwatch.Listing{URL: rec.Capture.URL}
		rec.Verdict = wildwatch.Verdict{}
	}
	return rec
}

// testCatalogListingHistory puts captures of two listings across four
// sweeps, some out of order: one is captured, seen unchanged, removed and
// listed again; the other changes. Each step is read back through the
// listing status, the history, the sweep counts and the lookups workers
// make.
func testCatalogListingHistory(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	for i, id := range []string{"s1", "s2", "s3", "s4"} {
		catSweep(t, c, id, "market", time.Duration(i)*time.Hour)
	}
	t0 := catTime
	t1, t2, t3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	a1 := listingCap("s1", "a1", "a", t0, wildwatch.ChangeNew, "sha256:aa")
	a2 := listingCap("s2", "a2", "a", t1, wildwatch.ChangeUnchanged, "sha256:aa")
	a2.RefersTo = "a1"
	a3 := listingCap("s3", "a3", "a", t2, wildwatch.ChangeRemoved, "sha256:404")
	a3.Capture.ModeReason = "listing removed: status 404 not found"
	b1 := listingCap("s1", "b1", "b", t0.Add(time.Minute), wildwatch.ChangeNew, "sha256:b1")
	b1.Listing.ID = "B-7"
	b2 := listingCap("s2", "b2", "b", t1.Add(time.Minute), wildwatch.ChangeChanged, "sha256:b2")
	for _, rec := range []CaptureRecord{a2, b2, a1, b1, a3} { // later captures first
		if added, err := c.PutCapture(ctx, rec); err != nil || !added {
			t.Fatalf("PutCapture(%s) = %v, %v", rec.Capture.ID, added, err)
		}
	}
	if added, err := c.PutCapture(ctx, a2); err != nil || added {
		t.Errorf("PutCapture(a2) again = %v, %v; want false, nil", added, err)
	}
	bad := listingCap("s1", "x", "x", t0, "moved", "")
	_, err := c.PutCapture(ctx, bad)
	catErr(t, "PutCapture(change moved)", err, ErrInvalid)

	urlA, urlB := a1.Capture.URL, b1.Capture.URL
	removedAt := t2
	wantA := wildwatch.ListingStatus{Target: "market", URL: urlA, State: wildwatch.ListingRemoved,
		FirstSeen: t0, FirstCapture: "a1", LastSeen: t1, LastCapture: "a2", LastChanged: t0,
		RemovedAt: &removedAt, RemovedCapture: "a3", Captures: 3}
	wantB := wildwatch.ListingStatus{Target: "market", URL: urlB, ListingID: "B-7", State: wildwatch.ListingActive,
		FirstSeen: b1.Capture.FetchedAt, FirstCapture: "b1", LastSeen: b2.Capture.FetchedAt, LastCapture: "b2",
		LastChanged: b2.Capture.FetchedAt, Captures: 2}
	got, err := c.GetListing(ctx, "market", urlA)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "GetListing(a)", got, wantA)
	got, err = c.GetListing(ctx, "market", urlB)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "GetListing(b)", got, wantB)
	_, err = c.GetListing(ctx, "other", urlA)
	catErr(t, "GetListing(other target)", err, ErrNotFound)

	hist, err := c.ListingHistory(ctx, "", urlA)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "ListingHistory(a)", hist, []CaptureRecord{a1, a2, a3})
	hist, err = c.ListingHistory(ctx, "other", urlA)
	if err != nil || len(hist) != 0 {
		t.Errorf("ListingHistory(other target) = %v, %v; want none", hist, err)
	}

	for _, tc := range []struct {
		name string
		f    ListingFilter
		want []wildwatch.ListingStatus
	}{
		{"all", ListingFilter{}, []wildwatch.ListingStatus{wantA, wantB}},
		{"active", ListingFilter{State: wildwatch.ListingActive}, []wildwatch.ListingStatus{wantB}},
		{"removed", ListingFilter{Target: "market", State: wildwatch.ListingRemoved}, []wildwatch.ListingStatus{wantA}},
		{"by url", ListingFilter{URL: urlB}, []wildwatch.ListingStatus{wantB}},
		{"by listing id", ListingFilter{Target: "market", ListingID: "B-7"}, []wildwatch.ListingStatus{wantB}},
		{"after a", ListingFilter{After: urlA}, []wildwatch.ListingStatus{wantB}},
		{"limit 1", ListingFilter{Limit: 1}, []wildwatch.ListingStatus{wantA}},
		{"other target", ListingFilter{Target: "other"}, []wildwatch.ListingStatus{}},
	} {
		ls, err := c.ListListings(ctx, tc.f)
		if err != nil {
			t.Fatalf("ListListings(%s): %v", tc.name, err)
		}
		catSame(t, "ListListings("+tc.name+")", ls, tc.want)
	}
	_, err = c.ListListings(ctx, ListingFilter{State: "sold"})
	catErr(t, "ListListings(state sold)", err, ErrInvalid)

	var active []string
	c.pageSize = 1
	if err := c.EachActiveListing(ctx, "market", func(u string) error { active = append(active, u); return nil }); err != nil {
		t.Fatal(err)
	}
	catSame(t, "EachActiveListing", active, []string{urlB})

	// The capture a new one of a is compared with is the last that showed
	// the listing, not its removal.
	prev, err := c.PreviousCapture(ctx, "market", urlA, "a9")
	if err != nil || prev.Capture.ID != "a2" {
		t.Errorf("PreviousCapture(a) = %s, %v; want a2", prev.Capture.ID, err)
	}
	prev, err = c.PreviousCapture(ctx, "market", urlB, "b2")
	if err != nil || prev.Capture.ID != "b1" {
		t.Errorf("PreviousCapture(b before b2) = %s, %v; want b1", prev.Capture.ID, err)
	}
	_, err = c.PreviousCapture(ctx, "market", urlB+"x", "z")
	catErr(t, "PreviousCapture(unknown)", err, ErrNotFound)

	// Backtests read the listing as last shown, not its removal page.
	var listings []string
	if err := c.EachCaptureListing(ctx, func(rec CaptureRecord) error {
		listings = append(listings, rec.Capture.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	catSame(t, "EachCaptureListing", listings, []string{"a2", "b2"})

	for _, tc := range []struct {
		sweep string
		want  wildwatch.SweepCounts
	}{
		{"s1", wildwatch.SweepCounts{Captures: 2, New: 2}},
		{"s2", wildwatch.SweepCounts{Captures: 2, Changed: 1, Unchanged: 1}},
		{"s3", wildwatch.SweepCounts{Captures: 1, Removed: 1}},
	} {
		sw, err := c.GetSweep(ctx, tc.sweep)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sw.Counts, tc.want) {
			t.Errorf("counts of %s = %+v, want %+v", tc.sweep, sw.Counts, tc.want)
		}
	}

	// A flag on content stands for every later capture of that content.
	if _, _, err := c.PutFlag(ctx, catFlag(a1, t0)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content, capture string
		want                   bool
	}{
		{"same content, later capture", "sha256:aa", "a2", true},
		{"the flagged capture itself", "sha256:aa", "a1", false},
		{"other content", "sha256:ab", "a2", false},
		{"no digest", "", "a2", false},
	} {
		got, err := c.FlaggedBefore(ctx, "market", urlA, tc.content, tc.capture)
		if err != nil || got != tc.want {
			t.Errorf("FlaggedBefore(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}

	// Listed again: active, the removal forgotten, the change recorded.
	a4 := listingCap("s4", "a4", "a", t3, wildwatch.ChangeChanged, "sha256:a4")
	if got, err := c.FlaggedBefore(ctx, "other", urlA, "sha256:aa", "a2"); err != nil || got {
		t.Errorf("FlaggedBefore(other target) = %v, %v; want false", got, err)
	}
	if _, err := c.PutCapture(ctx, a4); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetListing(ctx, "market", urlA)
	if err != nil {
		t.Fatal(err)
	}
	wantA.State, wantA.RemovedAt, wantA.RemovedCapture = wildwatch.ListingActive, nil, ""
	wantA.LastSeen, wantA.LastCapture, wantA.LastChanged, wantA.Captures = t3, "a4", t3, 4
	catSame(t, "GetListing(a) listed again", got, wantA)
}

// testCatalogFoundListings counts the listing tasks found on index pages
// apart from the known listings a sweep checks again.
func testCatalogFoundListings(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	for i, page := range []int{0, 0, 1, 2, 1} {
		catAddTask(t, c, SweepTask{SweepID: "s1", Key: catTaskKey("listing", i), Kind: wildwatch.PageListing, URL: "u", Page: page})
	}
	catAddTask(t, c, SweepTask{SweepID: "s1", Key: "index:1", Kind: wildwatch.PageIndex, URL: "i", Page: 1})
	n, err := c.CountFoundListings(ctx, "s1")
	if err != nil || n != 3 {
		t.Errorf("CountFoundListings = %d, %v; want 3", n, err)
	}
	if n, err := c.CountFoundListings(ctx, "nope"); err != nil || n != 0 {
		t.Errorf("CountFoundListings(unknown) = %d, %v", n, err)
	}
}

// testCatalogUpgradeListings opens a catalog from before listing histories
// holding captures: migrating gives each captured listing its status, and
// the old captures read back with no change.
func testCatalogUpgradeListings(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	old, err := openCatalogDB(ctx, CatalogConfig{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.migrateTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	catSweep(t, old, "s1", "market", 0)
	catSweep(t, old, "s2", "market", time.Hour)
	var before []CaptureRecord
	for _, rec := range []CaptureRecord{
		listingCap("s1", "a1", "a", catTime, "", ""),
		listingCap("s2", "a2", "a", catTime.Add(time.Hour), "", ""),
		listingCap("s2", "b1", "b", catTime.Add(time.Minute), "", ""),
	} {
		meta, _ := json.Marshal(rec.Capture)
		listing, _ := json.Marshal(rec.Listing)
		verdict, _ := json.Marshal(rec.Verdict)
		// The INSERT as PutCapture ran it before migration 5.
		if _, err := old.db.ExecContext(ctx, `INSERT INTO captures
			(id, sweep_id, target, url, fetched_at, meta, listing, verdict, manifest_key, warc_key, warc_sha256,
			 screenshot_key, dom_key, static_listing, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14)`,
			rec.Capture.ID, rec.Capture.SweepID, rec.Capture.Target, rec.Capture.URL, unixMicros(rec.Capture.FetchedAt),
			string(meta), string(listing), string(verdict), rec.ManifestKey, rec.WARCKey, rec.WARCSHA256, "", "",
			unixMicros(catTime)); err != nil {
			t.Fatal(err)
		}
		before = append(before, rec)
	}

	c := openCatalogT(t, dsn)
	hist, err := c.ListingHistory(ctx, "market", before[0].Capture.URL)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "history of a after migrating", hist, before[:2])
	ls, err := c.ListListings(ctx, ListingFilter{Target: "market"})
	if err != nil {
		t.Fatal(err)
	}
	later := catTime.Add(time.Hour)
	b := catTime.Add(time.Minute)
	catSame(t, "listings after migrating", ls, []wildwatch.ListingStatus{
		{Target: "market", URL: before[0].Capture.URL, State: wildwatch.ListingActive, FirstSeen: catTime, FirstCapture: "a1",
			LastSeen: later, LastCapture: "a2", LastChanged: later, Captures: 2},
		{Target: "market", URL: before[2].Capture.URL, State: wildwatch.ListingActive, FirstSeen: b, FirstCapture: "b1",
			LastSeen: b, LastCapture: "b1", LastChanged: b, Captures: 1},
	})
	// A capture put now brings the listing's status up to date as usual.
	a3 := listingCap("s2", "a3", "a", catTime.Add(2*time.Hour), wildwatch.ChangeRemoved, "sha256:404")
	if _, err := c.PutCapture(ctx, a3); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetListing(ctx, "market", a3.Capture.URL)
	if err != nil || got.State != wildwatch.ListingRemoved || got.Captures != 3 || got.LastCapture != "a2" {
		t.Errorf("listing a after a removal = %+v, %v", got, err)
	}
	if _, err := c.GetListing(ctx, "market", "https://market.example/item/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetListing(never captured) = %v", err)
	}
}
