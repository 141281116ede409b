package storage

import (
	"slices"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// testCatalogInvestigate searches listings of two targets by text, seller,
// platform, state and flags, and flags by seller and text.
func testCatalogInvestigate(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catSweep(t, c, "s2", "bazaar", time.Hour)
	put := func(sweep, target, id, title, desc, seller, platform, change string, at time.Time) CaptureRecord {
		t.Helper()
		rec := listingCap(sweep, id, id, at, change, "sha256:"+id)
		rec.Capture.Target = target
		if change != wildwatch.ChangeRemoved {
			rec.Listing.Title, rec.Listing.Description, rec.Listing.Seller, rec.Listing.Platform = title, desc, seller, platform
		}
		if added, err := c.PutCapture(ctx, rec); err != nil || !added {
			t.Fatalf("PutCapture(%s) = %v, %v", id, added, err)
		}
		return rec
	}
	t0 := catTime
	a := put("s1", "market", "a", "Carved IVORY bangle", "old piece", "OldCraft", "Example Market", wildwatch.ChangeNew, t0)
	b := put("s1", "market", "b", "Pangolin scale tea", "50%_off", "herbs4u", "Example Market", wildwatch.ChangeNew, t0.Add(time.Minute))
	cc := put("s2", "bazaar", "c", "Bangle, resin", "not ivory", "oldcraft", "Bazaar", wildwatch.ChangeNew, t0.Add(2*time.Minute))
	// b is removed later: its last capture showing it stays the source of
	// its fields. b-gone was removed when first seen.
	put("s1", "market", "b-gone", "", "", "", "", wildwatch.ChangeRemoved, t0.Add(3*time.Minute))
	rm := listingCap("s1", "b2", "b", t0.Add(3*time.Minute), wildwatch.ChangeRemoved, "sha256:404")
	if _, err := c.PutCapture(ctx, rm); err != nil {
		t.Fatal(err)
	}
	fa, _, err := c.PutFlag(ctx, wildwatch.Flag{SweepID: "s1", CaptureID: "a", Target: "market", Listing: a.Listing, Verdict: a.Verdict})
	if err != nil {
		t.Fatal(err)
	}
	fc, _, err := c.PutFlag(ctx, wildwatch.Flag{SweepID: "s2", CaptureID: "c", Target: "bazaar", Listing: cc.Listing,
		Verdict: wildwatch.Verdict{Category: "resin", Score: 0.3}})
	if err != nil {
		t.Fatal(err)
	}

	urls := func(q ListingQuery) []string {
		t.Helper()
		ms, err := c.SearchListings(ctx, q)
		if err != nil {
			t.Fatalf("SearchListings(%+v): %v", q, err)
		}
		var us []string
		for _, m := range ms {
			us = append(us, m.Status.Target+" "+m.Status.URL[len("https://market.example/item/"):])
		}
		return us
	}
	for _, tc := range []struct {
		name string
		q    ListingQuery
		want []string
	}{
		{"all, last seen first", ListingQuery{}, []string{"market b-gone", "bazaar c", "market b", "market a"}},
		{"text in title, any case", ListingQuery{Text: "bAnGlE"}, []string{"bazaar c", "market a"}},
		{"text in description", ListingQuery{Text: "IVORY"}, []string{"bazaar c", "market a"}},
		{"text in seller", ListingQuery{Text: "herbs"}, []string{"market b"}},
		{"text in URL", ListingQuery{Text: "item/c"}, []string{"bazaar c"}},
		{"LIKE characters are literal", ListingQuery{Text: "50%_"}, []string{"market b"}},
		{"percent alone matches no wildcard", ListingQuery{Text: "%x"}, nil},
		{"seller, exact, any case", ListingQuery{Seller: "OLDCRAFT"}, []string{"bazaar c", "market a"}},
		{"seller elsewhere", ListingQuery{Seller: "oldcraft", ExcludeTarget: "market"}, []string{"bazaar c"}},
		{"target", ListingQuery{Target: "bazaar"}, []string{"bazaar c"}},
		{"platform", ListingQuery{Platform: "example market", Text: "a"}, []string{"market b", "market a"}},
		{"removed", ListingQuery{State: wildwatch.ListingRemoved}, []string{"market b-gone", "market b"}},
		{"active, flagged", ListingQuery{State: wildwatch.ListingActive, FlaggedOnly: true}, []string{"bazaar c", "market a"}},
		{"paging", ListingQuery{Limit: 2, Offset: 1}, []string{"bazaar c", "market b"}},
	} {
		if got := urls(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	ms, err := c.SearchListings(ctx, ListingQuery{Text: "pangolin"})
	if err != nil || len(ms) != 1 {
		t.Fatalf("SearchListings(pangolin) = %+v, %v", ms, err)
	}
	if m := ms[0]; m.Status.State != wildwatch.ListingRemoved || m.Listing.Seller != "herbs4u" || m.Flags != 0 || m.Status.LastCapture != b.Capture.ID {
		t.Errorf("removed listing b = %+v", m)
	}
	ms, err = c.SearchListings(ctx, ListingQuery{Seller: "oldcraft"})
	if err != nil || len(ms) != 2 {
		t.Fatalf("SearchListings(seller) = %+v, %v", ms, err)
	}
	if ms[1].Flags != 1 || !slices.Equal(ms[1].Categories, []string{"ivory"}) || ms[0].Listing.Platform != "Bazaar" {
		t.Errorf("oldcraft's listings = %+v", ms)
	}
	_, err = c.SearchListings(ctx, ListingQuery{State: "gone"})
	catErr(t, "state gone", err, ErrInvalid)

	ps, err := c.ListingPlatforms(ctx)
	if err != nil || !slices.Equal(ps, []string{"Bazaar", "Example Market"}) {
		t.Errorf("ListingPlatforms = %q, %v", ps, err)
	}

	flagIDs := func(q FlagQuery) []string {
		t.Helper()
		fs, err := c.SearchFlags(ctx, q)
		if err != nil {
			t.Fatalf("SearchFlags(%+v): %v", q, err)
		}
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.ID)
		}
		return ids
	}
	if got := flagIDs(FlagQuery{Seller: "OldCraft"}); !slices.Equal(got, []string{fc.ID, fa.ID}) && !slices.Equal(got, []string{fa.ID, fc.ID}) {
		t.Errorf("flags of oldcraft = %q", got)
	}
	if got := flagIDs(FlagQuery{Seller: "oldcraft", SweepID: "s2"}); !slices.Equal(got, []string{fc.ID}) {
		t.Errorf("flags of oldcraft in s2 = %q", got)
	}
	if got := flagIDs(FlagQuery{Text: "CARVED"}); !slices.Equal(got, []string{fa.ID}) {
		t.Errorf("flags with carved = %q", got)
	}
	if got := flagIDs(FlagQuery{URL: cc.Capture.URL}); !slices.Equal(got, []string{fc.ID}) {
		t.Errorf("flags of listing c = %q", got)
	}
	if got := flagIDs(FlagQuery{Target: "market", Text: "resin"}); len(got) != 0 {
		t.Errorf("flags of market with resin = %q", got)
	}
}
