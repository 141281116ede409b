package storage

import (
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func testCatalogTargets(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)

	ts, err := c.ListTargets(ctx)
	if err != nil || ts == nil || len(ts) != 0 {
		t.Fatalf("ListTargets on an empty catalog = %#v, %v; want an empty slice", ts, err)
	}

	zoo, market := catTarget("zoo"), catTarget("market")
	market.Search = nil
	const zooSource = "name: zoo\n# applied by an admin\n"
	if err := c.PutTarget(ctx, zoo, []byte(zooSource)); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTarget(ctx, market, []byte("name: market\n")); err != nil {
		t.Fatal(err)
	}
	got, src, err := c.GetTarget(ctx, "zoo")
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "GetTarget", got, zoo)
	if string(src) != zooSource {
		t.Errorf("GetTarget source = %q, want %q", src, zooSource)
	}
	if got.ObeysRobots() {
		t.Error("ObeyRobots=false lost in the round trip")
	}

	// Upsert by name.
	zoo.Limits.MaxPages = 9
	if err := c.PutTarget(ctx, zoo, []byte("name: zoo\nlimits: {max_pages: 9}\n")); err != nil {
		t.Fatal(err)
	}
	got, src, err = c.GetTarget(ctx, "zoo")
	if err != nil {
		t.Fatal(err)
	}
	if got.Limits.MaxPages != 9 || string(src) != "name: zoo\nlimits: {max_pages: 9}\n" {
		t.Errorf("after a second PutTarget: max pages %d, source %q", got.Limits.MaxPages, src)
	}

	ts, err = c.ListTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "ListTargets", ts, []wildwatch.Target{market, zoo})

	_, _, err = c.GetTarget(ctx, "nope")
	catErr(t, "GetTarget(unknown)", err, ErrNotFound)
	catErr(t, "PutTarget(no name)", c.PutTarget(ctx, wildwatch.Target{}, nil), ErrInvalid)

	if err := c.DeleteTarget(ctx, "market"); err != nil {
		t.Fatal(err)
	}
	catErr(t, "DeleteTarget twice", c.DeleteTarget(ctx, "market"), ErrNotFound)
	if _, _, err := c.GetTarget(ctx, "market"); err == nil {
		t.Error("deleted target still found")
	}
}

func testCatalogTokens(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)

	admin := Token{Name: "ops", Role: "admin", Hash: "sha256:aaaa", CreatedAt: catTime}
	monitor := Token{Name: "field", Role: "monitor", Hash: "sha256:bbbb"}
	for _, tok := range []Token{admin, monitor} {
		if err := c.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.TokenByHash(ctx, "sha256:aaaa")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "ops" || got.Role != "admin" || got.Hash != "sha256:aaaa" || !got.CreatedAt.Equal(catTime) {
		t.Errorf("TokenByHash = %+v, want %+v", got, admin)
	}
	got, err = c.TokenByHash(ctx, "sha256:bbbb")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.IsZero() || time.Since(got.CreatedAt) > time.Hour {
		t.Errorf("default CreatedAt = %v, want about now", got.CreatedAt)
	}

	// Rotating a token replaces its hash.
	admin.Hash, admin.Role = "sha256:cccc", "investigator"
	if err := c.PutToken(ctx, admin); err != nil {
		t.Fatal(err)
	}
	_, err = c.TokenByHash(ctx, "sha256:aaaa")
	catErr(t, "TokenByHash(rotated hash)", err, ErrNotFound)
	got, err = c.TokenByHash(ctx, "sha256:cccc")
	if err != nil || got.Name != "ops" || got.Role != "investigator" {
		t.Errorf("TokenByHash(new hash) = %+v, %v", got, err)
	}

	list, err := c.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "field" || list[1].Name != "ops" {
		t.Errorf("ListTokens = %+v, want field, ops", list)
	}

	for _, bad := range []Token{{Role: "admin", Hash: "h"}, {Name: "n", Hash: "h"}, {Name: "n", Role: "admin"}} {
		catErr(t, "PutToken(incomplete)", c.PutToken(ctx, bad), ErrInvalid)
	}
	if err := c.PutToken(ctx, Token{Name: "other", Role: "monitor", Hash: "sha256:cccc"}); err == nil {
		t.Error("PutToken accepted a hash another token has")
	}
	if err := c.DeleteToken(ctx, "field"); err != nil {
		t.Fatal(err)
	}
	_, err = c.TokenByHash(ctx, "sha256:bbbb")
	catErr(t, "TokenByHash(deleted)", err, ErrNotFound)
	catErr(t, "DeleteToken(unknown)", c.DeleteToken(ctx, "field"), ErrNotFound)
}
