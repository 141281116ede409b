package storage

import (
	"net/http"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// catCapture returns a capture record of sweep sweepID fetched at at.
func catCapture(sweepID, id string, at time.Time) CaptureRecord {
	u := "https://market.example/item/" + id
	return CaptureRecord{
		Capture: wildwatch.Capture{
			ID: id, SweepID: sweepID, Target: "market", URL: u, FinalURL: u + "?ref=1",
			RemoteIP: "192.0.2.10", StartedAt: at.Add(-time.Second), FetchedAt: at, Status: 200,
			UserAgent:     wildwatch.DefaultUserAgent,
			RequestHeader: http.Header{"Accept": {"text/html"}},
			Header:        http.Header{"Content-Type": {"text/html; charset=gbk"}},
			Proto:         "HTTP/1.1", Charset: "gbk", Truncated: true,
			Body: []byte("<html>not stored</html>"), Text: "not stored",
		},
		Listing: wildwatch.Listing{URL: u, Platform: "Example Market", Title: "Carved ivory bangle 象牙手镯", Price: "1200",
			Currency: "CNY", Seller: "oldcraft", Images: []string{"https://market.example/p/1.jpg"}},
		Verdict: wildwatch.Verdict{Flagged: true, Score: 0.92, Category: "ivory", RuleSet: "default@3",
			Matches: []wildwatch.Match{{Rule: "ivory-zh", Category: "ivory", Field: wildwatch.FieldTitle, Start: 20, End: 26, Text: "象牙", Weight: 0.9}}},
		ManifestKey: "captures/" + sweepID + "/" + id + ".manifest.json",
		WARCKey:     "captures/" + sweepID + "/" + id + "/00112233.warc.gz",
		WARCSHA256:  "0011223344556677",
	}
}

// catRenderedCapture returns a capture record of a page rendered in the
// browser after static extraction found too little.
func catRenderedCapture(sweepID, id string, at time.Time) CaptureRecord {
	rec := catCapture(sweepID, id, at)
	c := &rec.Capture
	c.Mode, c.ModeReason = wildwatch.RenderBrowser, "static listing had no title"
	c.Rendered = &wildwatch.Rendering{
		DOM:        []byte("<html><h1>not stored</h1></html>"),
		Screenshot: []byte("\x89PNG not stored"),
		Viewport:   wildwatch.Viewport{Width: 1280, Height: 800},
		RenderedAt: at.Add(1500 * time.Millisecond),
		Browser:    "Chrome/131.0.6778.85",
		Warnings:   []string{"network never went idle"},
	}
	rec.StaticListing = &wildwatch.Listing{URL: c.URL, Platform: "Example Market", Seller: "oldcraft"}
	rec.ScreenshotKey = "captures/" + sweepID + "/" + id + "/8899aabbccddeeff.png"
	rec.DOMKey = "captures/" + sweepID + "/" + id + "/0123456789abcdef.html"
	return rec
}

// catFlag returns the flag detection would raise for rec.
func catFlag(rec CaptureRecord, at time.Time) wildwatch.Flag {
	return wildwatch.Flag{
		SweepID: rec.Capture.SweepID, CaptureID: rec.Capture.ID, Target: rec.Capture.Target,
		CreatedAt: at, Listing: rec.Listing, Verdict: rec.Verdict,
	}
}

func testCatalogCaptures(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catSweep(t, c, "s2", "market", time.Second)

	late := catCapture("s1", "c-late", catTime.Add(time.Minute))
	early := catCapture("s1", "c-early", catTime)
	other := catCapture("s2", "c-other", catTime.Add(time.Hour))
	rendered := catRenderedCapture("s1", "c-rendered", catTime.Add(time.Second))
	emptyStatic := catRenderedCapture("s2", "c-rendered-empty-static", catTime.Add(2*time.Hour))
	emptyStatic.StaticListing = &wildwatch.Listing{}
	for _, rec := range []CaptureRecord{late, early, other, rendered, emptyStatic} {
		added, err := c.PutCapture(ctx, rec)
		if err != nil || !added {
			t.Fatalf("PutCapture(%s) = %v, %v", rec.Capture.ID, added, err)
		}
	}
	for _, want := range []CaptureRecord{early, rendered, emptyStatic} {
		got, err := c.GetCapture(ctx, want.Capture.ID)
		if err != nil {
			t.Fatal(err)
		}
		catSame(t, "GetCapture("+want.Capture.ID+")", got, want)
		if got.Capture.Body != nil || got.Capture.Text != "" {
			t.Error("GetCapture returned a body; bodies belong to evidence")
		}
		if r := got.Capture.Rendered; r != nil && (r.DOM != nil || r.Screenshot != nil) {
			t.Error("GetCapture returned a DOM or screenshot; they belong to evidence")
		}
	}
	got, err := c.GetCapture(ctx, "c-rendered")
	switch {
	case err != nil:
		t.Fatal(err)
	case got.Capture.Mode != wildwatch.RenderBrowser || got.Capture.ModeReason != rendered.Capture.ModeReason:
		t.Errorf("mode %q (%q), want %q (%q)", got.Capture.Mode, got.Capture.ModeReason, wildwatch.RenderBrowser, rendered.Capture.ModeReason)
	case got.ScreenshotKey != rendered.ScreenshotKey || got.DOMKey != rendered.DOMKey:
		t.Errorf("screenshot key %q, DOM key %q; want %q, %q", got.ScreenshotKey, got.DOMKey, rendered.ScreenshotKey, rendered.DOMKey)
	case got.StaticListing == nil || got.StaticListing.Seller != rendered.StaticListing.Seller:
		t.Errorf("static listing %+v, want %+v", got.StaticListing, rendered.StaticListing)
	case got.Capture.Rendered == nil || !got.Capture.Rendered.RenderedAt.Equal(rendered.Capture.Rendered.RenderedAt):
		t.Errorf("rendering %+v, want %+v", got.Capture.Rendered, rendered.Capture.Rendered)
	}
	if got, err := c.GetCapture(ctx, "c-early"); err != nil || got.StaticListing != nil || got.ScreenshotKey != "" || got.DOMKey != "" {
		t.Errorf("static capture: %+v, %v; want no static listing, screenshot or DOM", got, err)
	}
	if got, err := c.GetCapture(ctx, "c-rendered-empty-static"); err != nil || got.StaticListing == nil {
		t.Errorf("a static listing that found nothing came back as %+v, %v; want an empty listing, not none", got.StaticListing, err)
	}

	// Putting it again keeps the first record.
	changed := early
	changed.WARCKey = "captures/s1/c-early/ffff.warc.gz"
	added, err := c.PutCapture(ctx, changed)
	if err != nil || added {
		t.Fatalf("PutCapture(again) = %v, %v; want false, nil", added, err)
	}
	got, err = c.GetCapture(ctx, "c-early")
	if err != nil || got.WARCKey != early.WARCKey {
		t.Errorf("after a second PutCapture: WARC key %q, %v; want %q", got.WARCKey, err, early.WARCKey)
	}

	tests := []struct {
		sweep string
		want  []string
	}{
		{"s1", []string{"c-early", "c-rendered", "c-late"}},
		{"s2", []string{"c-other", "c-rendered-empty-static"}},
		{"", []string{"c-early", "c-rendered", "c-late", "c-other", "c-rendered-empty-static"}},
		{"nope", nil},
	}
	for _, tc := range tests {
		recs, err := c.ListCaptures(ctx, tc.sweep)
		if err != nil {
			t.Fatalf("ListCaptures(%q): %v", tc.sweep, err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.Capture.ID)
			if r.Capture.ID == rendered.Capture.ID {
				catSame(t, "ListCaptures("+tc.sweep+") rendered capture", r, rendered)
			}
		}
		catSame(t, "ListCaptures("+tc.sweep+")", ids, tc.want)
	}

	_, err = c.GetCapture(ctx, "nope")
	catErr(t, "GetCapture(unknown)", err, ErrNotFound)
	_, err = c.PutCapture(ctx, catCapture("nope", "c-x", catTime))
	catErr(t, "PutCapture(unknown sweep)", err, ErrNotFound)
	_, err = c.PutCapture(ctx, catCapture("s1", "", catTime))
	catErr(t, "PutCapture(no id)", err, ErrInvalid)
	_, err = c.PutCapture(ctx, catCapture("", "c-y", catTime))
	catErr(t, "PutCapture(no sweep)", err, ErrInvalid)
}

func testCatalogFlags(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	rec := catCapture("s1", "c1", catTime)

	in := catFlag(rec, time.Time{})
	f, added, err := c.PutFlag(ctx, in)
	if err != nil || !added {
		t.Fatalf("PutFlag = %v, %v", added, err)
	}
	if len(f.ID) < 8 || f.Status != wildwatch.FlagNew || f.CreatedAt.IsZero() || f.CreatedAt.Location() != time.UTC {
		t.Errorf("PutFlag defaults: id %q, status %q, created %v", f.ID, f.Status, f.CreatedAt)
	}
	if f.Category != "ivory" || f.Score != 0.92 || f.RuleSet != "default@3" || f.URL != rec.Listing.URL {
		t.Errorf("PutFlag did not take category, score, rule set and URL from the verdict and listing: %+v", f)
	}
	got, err := c.GetFlag(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "GetFlag", got, f)

	// A second flag for the same capture returns the first.
	again := catFlag(rec, catTime)
	again.Category = "tiger"
	dup, added, err := c.PutFlag(ctx, again)
	if err != nil || added {
		t.Fatalf("PutFlag(same capture) = %v, %v; want false, nil", added, err)
	}
	catSame(t, "PutFlag(same capture)", dup, f)

	// A given ID and time are kept.
	rec2 := catCapture("s1", "c2", catTime)
	in2 := catFlag(rec2, catTime.In(time.FixedZone("CST", 8*3600)))
	in2.ID, in2.Status = "flag-two", wildwatch.FlagConfirmed
	f2, added, err := c.PutFlag(ctx, in2)
	if err != nil || !added || f2.ID != "flag-two" || !f2.CreatedAt.Equal(catTime) || f2.Status != wildwatch.FlagConfirmed {
		t.Fatalf("PutFlag(with id) = %+v, %v, %v", f2, added, err)
	}
	got2, err := c.GetFlag(ctx, "flag-two")
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "GetFlag(flag-two)", got2, f2)

	_, err = c.GetFlag(ctx, "nope")
	catErr(t, "GetFlag(unknown)", err, ErrNotFound)
	_, _, err = c.PutFlag(ctx, catFlag(catCapture("nope", "c3", catTime), catTime))
	catErr(t, "PutFlag(unknown sweep)", err, ErrNotFound)
	bad := catFlag(catCapture("s1", "c4", catTime), catTime)
	bad.Status = "maybe"
	_, _, err = c.PutFlag(ctx, bad)
	catErr(t, "PutFlag(bad status)", err, ErrInvalid)
	_, _, err = c.PutFlag(ctx, wildwatch.Flag{SweepID: "s1"})
	catErr(t, "PutFlag(no capture)", err, ErrInvalid)
}

func testCatalogListFlags(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "alpha", 0)
	catSweep(t, c, "s2", "beta", time.Second)
	seed := []struct {
		id, sweep, target, category, status string
		at                                  time.Duration
	}{
		{"f1", "s1", "alpha", "ivory", wildwatch.FlagNew, 1 * time.Hour},
		{"f2", "s1", "alpha", "pangolin", wildwatch.FlagConfirmed, 2 * time.Hour},
		{"f3", "s2", "beta", "ivory", wildwatch.FlagDismissed, 3 * time.Hour},
		{"f4", "s2", "beta", "ivory", wildwatch.FlagNew, 4 * time.Hour},
		{"f5", "s2", "beta", "tiger", wildwatch.FlagNew, 4 * time.Hour},
	}
	for _, sd := range seed {
		f := catFlag(catCapture(sd.sweep, "cap-"+sd.id, catTime), catTime.Add(sd.at))
		f.ID, f.Target, f.Category, f.Status = sd.id, sd.target, sd.category, sd.status
		if _, _, err := c.PutFlag(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    FlagFilter
		want []string
	}{
		{"all, newest first", FlagFilter{}, []string{"f5", "f4", "f3", "f2", "f1"}},
		{"target", FlagFilter{Target: "alpha"}, []string{"f2", "f1"}},
		{"category", FlagFilter{Category: "ivory"}, []string{"f4", "f3", "f1"}},
		{"status", FlagFilter{Status: wildwatch.FlagNew}, []string{"f5", "f4", "f1"}},
		{"sweep", FlagFilter{SweepID: "s2"}, []string{"f5", "f4", "f3"}},
		{"since", FlagFilter{Since: catTime.Add(3 * time.Hour)}, []string{"f5", "f4", "f3"}},
		{"until", FlagFilter{Until: catTime.Add(3 * time.Hour)}, []string{"f2", "f1"}},
		{"window", FlagFilter{Since: catTime.Add(2 * time.Hour), Until: catTime.Add(4 * time.Hour)}, []string{"f3", "f2"}},
		{"combined", FlagFilter{Category: "ivory", Status: wildwatch.FlagNew, Target: "beta"}, []string{"f4"}},
		{"limit", FlagFilter{Limit: 2}, []string{"f5", "f4"}},
		{"offset", FlagFilter{Limit: 2, Offset: 2}, []string{"f3", "f2"}},
		{"offset past the end", FlagFilter{Offset: 10}, nil},
		{"no match", FlagFilter{Category: "rhino"}, nil},
		{"huge limit is capped", FlagFilter{Limit: 1 << 20}, []string{"f5", "f4", "f3", "f2", "f1"}},
	}
	for _, tc := range tests {
		fs, err := c.ListFlags(ctx, tc.f)
		if err != nil {
			t.Fatalf("ListFlags(%s): %v", tc.name, err)
		}
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.ID)
			if f.Listing.Title == "" || f.Verdict.RuleSet == "" {
				t.Errorf("ListFlags(%s): flag %s lacks its listing or verdict", tc.name, f.ID)
			}
		}
		catSame(t, "ListFlags("+tc.name+")", ids, tc.want)
	}
	if none, err := c.ListFlags(ctx, FlagFilter{Target: "gamma"}); err != nil || none == nil {
		t.Errorf("ListFlags(no match) = %#v, %v; want an empty slice", none, err)
	}
	_, err := c.ListFlags(ctx, FlagFilter{Limit: -1})
	catErr(t, "ListFlags(negative limit)", err, ErrInvalid)
	_, err = c.ListFlags(ctx, FlagFilter{Offset: -1})
	catErr(t, "ListFlags(negative offset)", err, ErrInvalid)
}

func testCatalogReviews(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	f, _, err := c.PutFlag(ctx, catFlag(catCapture("s1", "c1", catTime), catTime))
	if err != nil {
		t.Fatal(err)
	}

	reviews := []wildwatch.Review{
		{FlagID: f.ID, Decision: wildwatch.FlagConfirmed, Note: "carved ivory, seller code word", Reviewer: "ana", At: catTime.Add(time.Hour)},
		{FlagID: f.ID, Decision: wildwatch.FlagDismissed, Note: "resin copy", Reviewer: "ben", At: catTime.Add(2 * time.Hour)},
	}
	for i, r := range reviews {
		got, err := c.AddReview(ctx, r)
		if err != nil {
			t.Fatalf("AddReview %d: %v", i, err)
		}
		if got.Status != r.Decision || len(got.Reviews) != i+1 {
			t.Errorf("after review %d: status %s, %d reviews", i, got.Status, len(got.Reviews))
		}
	}
	got, err := c.GetFlag(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "reviews of the flag", got.Reviews, reviews)
	listed, err := c.ListFlags(ctx, FlagFilter{Status: wildwatch.FlagDismissed})
	if err != nil || len(listed) != 1 || listed[0].ID != f.ID {
		t.Errorf("ListFlags(dismissed) = %v, %v", listed, err)
	}

	// At defaults to now.
	got, err = c.AddReview(ctx, wildwatch.Review{FlagID: f.ID, Decision: wildwatch.FlagConfirmed, Reviewer: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if last := got.Reviews[len(got.Reviews)-1]; last.At.IsZero() || got.Status != wildwatch.FlagConfirmed {
		t.Errorf("third review: %+v, status %s", last, got.Status)
	}

	_, err = c.AddReview(ctx, wildwatch.Review{FlagID: "nope", Decision: wildwatch.FlagConfirmed, Reviewer: "ana"})
	catErr(t, "AddReview(unknown flag)", err, ErrNotFound)
	for _, bad := range []wildwatch.Review{
		{FlagID: f.ID, Decision: wildwatch.FlagNew, Reviewer: "ana"},
		{FlagID: f.ID, Decision: "reported", Reviewer: "ana"},
		{FlagID: f.ID, Decision: wildwatch.FlagConfirmed},
		{Decision: wildwatch.FlagConfirmed, Reviewer: "ana"},
	} {
		_, err := c.AddReview(ctx, bad)
		catErr(t, "AddReview(invalid)", err, ErrInvalid)
	}
	got, err = c.GetFlag(ctx, f.ID)
	if err != nil || len(got.Reviews) != 3 {
		t.Errorf("refused reviews were stored: %d reviews, %v", len(got.Reviews), err)
	}
}
