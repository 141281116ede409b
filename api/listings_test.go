package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// historyBundle is an API server over a catalog and evidence holding one
// listing's history: captured (flagged), captured again unchanged (a
// revisit), then found removed.
type historyBundle struct {
	*bundle
	ev       *storage.Evidence
	url      string
	captures []storage.CaptureRecord
}

func setupHistory(t *testing.T) *historyBundle {
	t.Helper()
	b := setup(t)
	ctx := context.Background()
	signer, err := storage.LoadOrCreateKey(filepath.Join(t.TempDir(), "key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Config{Catalog: b.catalog, Evidence: b.store, Sweeps: b.sweeps, PublicKey: storage.FormatPublicKey(signer.PublicKey())})
	if err != nil {
		t.Fatal(err)
	}
	b.srv.Close()
	b.srv = httptest.NewServer(s)
	t.Cleanup(b.srv.Close)
	h := &historyBundle{bundle: b, ev: &storage.Evidence{Store: b.store, Signer: signer}, url: "http://market.example/item/7"}

	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	body := []byte(`<html><h1 class="t">Carved elephant ivory tusk</h1></html>`)
	listing := wildwatch.Listing{URL: h.url, ID: "L7", Title: "Carved elephant ivory tusk", Description: "Real ivory, old."}
	verdict := wildwatch.Verdict{Flagged: true, Score: 0.9, Category: "ivory", RuleSet: "default@1", Matches: []wildwatch.Match{
		{Rule: "ivory", Category: "ivory", Field: wildwatch.FieldTitle, Start: 16, End: 21, Text: "ivory", Weight: 0.9},
		{Rule: "ivory", Category: "ivory", Field: wildwatch.FieldDescription, Start: 5, End: 10, Text: "ivory", Weight: 0.9},
	}}
	for i, step := range []struct {
		change string
		status int
		body   []byte
	}{
		{wildwatch.ChangeNew, 200, body},
		{wildwatch.ChangeUnchanged, 200, body},
		{wildwatch.ChangeRemoved, 404, []byte("gone")},
	} {
		sweep := "h" + string(rune('1'+i))
		at := start.Add(time.Duration(i) * 24 * time.Hour)
		if err := b.catalog.CreateSweep(ctx, wildwatch.Sweep{ID: sweep, Target: "market", CreatedAt: at}, wildwatch.Target{Name: "market"}); err != nil {
			t.Fatal(err)
		}
		c := &wildwatch.Capture{ID: "c-" + sweep, SweepID: sweep, Target: "market", URL: h.url, FinalURL: h.url, Status: step.status,
			StartedAt: at, FetchedAt: at.Add(time.Second), UserAgent: wildwatch.DefaultUserAgent, Proto: "HTTP/1.1",
			RequestHeader: http.Header{"Accept": {"text/html"}}, Header: http.Header{"Content-Type": {"text/html"}}, Body: step.body,
			Mode: wildwatch.RenderStatic, ModeReason: "static fetch found the listing"}
		p := storage.WARCParams{Capture: c, Listing: listing, Verdict: verdict}
		rec := storage.CaptureRecord{Listing: listing, Verdict: verdict, Change: step.change,
			PayloadDigest: storage.PayloadDigest(c.Body), ContentDigest: storage.ContentDigest(c)}
		switch step.change {
		case wildwatch.ChangeUnchanged:
			if p.Revisit, err = h.ev.RevisitOf(ctx, h.captures[0].ManifestKey); err != nil {
				t.Fatal(err)
			}
		case wildwatch.ChangeRemoved:
			c.ModeReason = "listing removed: status 404 not found"
			p.Listing, p.Verdict, p.Removed = wildwatch.Listing{URL: h.url}, wildwatch.Verdict{}, "status 404 not found"
			rec.Listing, rec.Verdict = p.Listing, p.Verdict
		}
		m, err := h.ev.Record(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		rec.Capture = *c
		rec.SetEvidence(m)
		if _, err := b.catalog.PutCapture(ctx, rec); err != nil {
			t.Fatal(err)
		}
		h.captures = append(h.captures, rec)
	}
	return h
}

func TestListingHistory(t *testing.T) {
	t.Parallel()
	h := setupHistory(t)
	ctx := context.Background()
	c := h.client(api.RoleMonitor)

	ls, err := c.Listings(ctx, url.Values{"url": {h.url}})
	if err != nil {
		t.Fatal(err)
	}
	removed := h.captures[2].Capture.FetchedAt
	if len(ls) != 1 || ls[0].State != wildwatch.ListingRemoved || ls[0].Captures != 3 || ls[0].ListingID != "L7" ||
		ls[0].RemovedAt == nil || !ls[0].RemovedAt.Equal(removed) || ls[0].LastCapture != "c-h2" || ls[0].FirstCapture != "c-h1" {
		t.Errorf("listings?url = %+v", ls)
	}
	if ls, err := c.Listings(ctx, url.Values{"state": {"active"}}); err != nil || len(ls) != 1 || ls[0].URL != "http://x/item/1" {
		t.Errorf("active listings = %+v, %v; want the one of the shared fixture", ls, err)
	}
	if _, err := c.Listings(ctx, url.Values{"state": {"sold"}}); status(err) != http.StatusBadRequest {
		t.Errorf("listings?state=sold: %v", err)
	}

	for _, q := range []url.Values{{"url": {h.url}}, {"target": {"market"}, "id": {"L7"}}} {
		hist, err := c.ListingHistory(ctx, q)
		if err != nil {
			t.Fatalf("history %v: %v", q, err)
		}
		var got []string
		for _, e := range hist.Captures {
			got = append(got, e.CaptureID+" "+e.Change+" "+e.RefersTo)
		}
		want := []string{"c-h1 new ", "c-h2 unchanged c-h1", "c-h3 removed "}
		if !slices.Equal(got, want) || hist.URL != h.url || len(hist.Listings) != 1 {
			t.Errorf("history %v = %q (%+v), want %q", q, got, hist, want)
		}
		if e := hist.Captures[0]; !e.Flagged || e.Category != "ivory" || e.Title == "" || e.ManifestKey != h.captures[0].ManifestKey {
			t.Errorf("first entry %+v", e)
		}
		if e := hist.Captures[2]; e.Removed != "listing removed: status 404 not found" || e.Status != 404 || e.Flagged {
			t.Errorf("removal entry %+v", e)
		}
	}
	for _, tc := range []struct {
		q    url.Values
		want int
	}{
		{url.Values{}, http.StatusBadRequest},
		{url.Values{"target": {"market"}}, http.StatusBadRequest},
		{url.Values{"url": {"http://market.example/none"}}, http.StatusNotFound},
		{url.Values{"target": {"market"}, "id": {"nope"}}, http.StatusNotFound},
	} {
		if _, err := c.ListingHistory(ctx, tc.q); status(err) != tc.want {
			t.Errorf("history %v: %v, want %d", tc.q, err, tc.want)
		}
	}
}

func TestCaptureView(t *testing.T) {
	t.Parallel()
	h := setupHistory(t)
	ctx := context.Background()

	v, err := h.client(api.RoleInvestigator).CaptureFull(ctx, "c-h2")
	if err != nil {
		t.Fatal(err)
	}
	if v.Verification == nil || !v.Verification.OK || len(v.EvidenceErrors) > 0 {
		t.Errorf("verification %+v, errors %q", v.Verification, v.EvidenceErrors)
	}
	if v.Change != wildwatch.ChangeUnchanged || v.RefersTo != "c-h1" {
		t.Errorf("change %q refers to %q", v.Change, v.RefersTo)
	}
	x := v.Exchange
	if x == nil || x.ResponseRecord != "revisit" || x.Request.Line != "GET /item/7 HTTP/1.1" || x.Response.Line != "HTTP/1.1 200 OK" ||
		x.Status != 200 || x.TargetURI != h.url {
		t.Fatalf("exchange %+v", x)
	}
	if !slices.ContainsFunc(x.Request.Header, func(f storage.HeaderField) bool { return f.Name == "Host" && f.Value == "market.example" }) ||
		!slices.ContainsFunc(x.Response.Header, func(f storage.HeaderField) bool { return f.Name == "Content-Type" && f.Value == "text/html" }) {
		t.Errorf("exchange headers %+v / %+v", x.Request.Header, x.Response.Header)
	}
	if v.Manifest == nil || v.Manifest.CaptureID != "c-h2" || len(v.Manifest.Objects) != 3 {
		t.Errorf("manifest %+v", v.Manifest)
	}
	var fields []string
	for _, f := range v.Fields {
		for _, m := range f.Matches {
			fields = append(fields, f.Name+":"+f.Value[m.Start:m.End])
		}
	}
	if !slices.Equal(fields, []string{"title:ivory", "description:ivory"}) {
		t.Errorf("matches by field %q", fields)
	}

	// Monitors see the verdict and the verification, not the exchange.
	v, err = h.client(api.RoleMonitor).CaptureFull(ctx, "c-h1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Exchange != nil || v.Manifest != nil || v.Verification == nil || !v.Verification.OK {
		t.Errorf("monitor's view: exchange %v, manifest %v, verification %+v", v.Exchange, v.Manifest, v.Verification)
	}
	// Both views are in the custody log, each read with its role.
	entries, err := h.client(api.RoleInvestigator).Custody(ctx, url.Values{"prefix": {"captures/"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Role+" "+e.Action+" "+e.Object)
	}
	want := []string{
		api.RoleInvestigator + " verify " + h.captures[1].ManifestKey,
		api.RoleInvestigator + " read-warc " + h.captures[1].WARCKey,
		api.RoleInvestigator + " read-manifest " + h.captures[1].ManifestKey,
		api.RoleMonitor + " verify " + h.captures[0].ManifestKey,
	}
	if !slices.Equal(got, want) {
		t.Errorf("custody log after two views:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A changed WARC fails verification in the view.
	path := filepath.Join(h.store.Root(), filepath.FromSlash(h.captures[0].WARCKey))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	_ = os.Chmod(path, 0o644)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c-h1", "c-h2"} { // the revisit leans on the first WARC
		v, err = h.client(api.RoleInvestigator).CaptureFull(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Verification == nil || v.Verification.OK || !strings.Contains(strings.Join(v.Verification.Problems, " "), h.captures[0].WARCKey) {
			t.Errorf("view of %s after tampering: %+v", id, v.Verification)
		}
	}
	if _, err := h.client(api.RoleMonitor).CaptureFull(ctx, "nope"); status(err) != http.StatusNotFound {
		t.Errorf("view of an unknown capture: %v", err)
	}
}
