package storage

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/pgtest"
)

func TestBundleItemsSQLite(t *testing.T) {
	t.Parallel()
	testBundleItems(t, catalogSuite{newDSN: func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "wildwatch.db")
	}})
}

func TestBundleItemsPostgres(t *testing.T) {
	t.Parallel()
	testBundleItems(t, catalogSuite{newDSN: func(t *testing.T) string { return pgtest.New(t) }})
}

// testBundleItems checks which captures a selection gives, with their
// flags and reviews.
func testBundleItems(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catSweep(t, c, "s2", "market", time.Hour)
	// s1: a, b (flagged, reviewed), c (flagged); s2: d.
	for i, id := range []string{"a", "b", "c"} {
		if _, err := c.PutCapture(ctx, catCapture("s1", id, catTime.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutCapture(ctx, catCapture("s2", "d", catTime.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{}
	for _, id := range []string{"b", "c"} {
		rec, err := c.GetCapture(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := c.PutFlag(ctx, catFlag(rec, catTime))
		if err != nil {
			t.Fatal(err)
		}
		flags[id] = f.ID
	}
	if _, err := c.AddReview(ctx, wildwatch.Review{FlagID: flags["b"], Decision: wildwatch.FlagConfirmed, Reviewer: "ana", At: catTime}); err != nil {
		t.Fatal(err)
	}

	summary := func(items []BundleItem) []string {
		var out []string
		for _, it := range items {
			s := it.Capture.Capture.ID
			if it.Flag != nil {
				s += ":" + it.Flag.Status
				for _, r := range it.Flag.Reviews {
					s += ":" + r.Reviewer
				}
			}
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name string
		sel  BundleSelection
		want []string
		err  error
	}{
		{"sweep", BundleSelection{SweepID: "s1"}, []string{"a", "b:confirmed:ana", "c:new"}, nil},
		{"flagged of a sweep", BundleSelection{SweepID: "s1", FlaggedOnly: true}, []string{"b:confirmed:ana", "c:new"}, nil},
		{"flags in the order given", BundleSelection{FlagIDs: []string{flags["c"], flags["b"]}}, []string{"c:new", "b:confirmed:ana"}, nil},
		{"other sweep", BundleSelection{SweepID: "s2"}, []string{"d"}, nil},
		{"unknown sweep", BundleSelection{SweepID: "nope"}, nil, ErrNotFound},
		{"unknown flag", BundleSelection{FlagIDs: []string{flags["b"], "nope"}}, nil, ErrNotFound},
		{"neither", BundleSelection{}, nil, ErrInvalid},
		{"both", BundleSelection{SweepID: "s1", FlagIDs: []string{flags["b"]}}, nil, ErrInvalid},
	}
	for _, tt := range tests {
		items, err := c.BundleItems(ctx, tt.sel)
		if tt.err != nil {
			catErr(t, tt.name, err, tt.err)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := summary(items); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
