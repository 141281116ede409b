package storage

import (
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func testCatalogUsers(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	if err := c.PutUser(ctx, User{Name: "ana", Role: "monitor"}); err == nil {
		t.Error("PutUser without a password hash succeeded")
	}
	if err := c.PutUser(ctx, User{Name: "ana", Role: "monitor", Password: "$argon2id$x"}); err != nil {
		t.Fatal(err)
	}
	u, err := c.GetUser(ctx, "ana")
	if err != nil || u.Role != "monitor" || u.Password != "$argon2id$x" || u.Disabled {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	now := time.Now().UTC()
	sess := Session{IDHash: "h1", Principal: "ana", Kind: SessionUser, Role: "monitor", CSRF: "c", ExpiresAt: now.Add(time.Hour), MaxAt: now.Add(2 * time.Hour)}
	if err := c.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	// A new role applies to the open session.
	if err := c.PutUser(ctx, User{Name: "ana", Role: "admin", Password: "$argon2id$x"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSession(ctx, "h1", now)
	if err != nil || got.Role != "admin" || got.Principal != "ana" || got.CSRF != "c" {
		t.Fatalf("GetSession after role change = %+v, %v", got, err)
	}
	// Idle expiry moves on but never past the absolute one.
	if err := c.TouchSession(ctx, "h1", now.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSession(ctx, "h1", now.Add(90*time.Minute)); err != nil {
		t.Errorf("session renewed to its max: %v", err)
	}
	catErr(t, "session past its max", func() error { _, err := c.GetSession(ctx, "h1", now.Add(3*time.Hour)); return err }(), ErrNotFound)
	catErr(t, "expired session is gone", func() error { _, err := c.GetSession(ctx, "h1", now); return err }(), ErrNotFound)

	// Disabling a user ends their sessions; so does deleting them.
	sess.IDHash = "h2"
	if err := c.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := c.PutUser(ctx, User{Name: "ana", Role: "admin", Password: "$argon2id$x", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	catErr(t, "session of a disabled user", func() error { _, err := c.GetSession(ctx, "h2", now); return err }(), ErrNotFound)
	if err := c.PutUser(ctx, User{Name: "bo", Role: "investigator", Password: "$argon2id$y"}); err != nil {
		t.Fatal(err)
	}
	sess.IDHash, sess.Principal = "h3", "bo"
	if err := c.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, "bo"); err != nil {
		t.Fatal(err)
	}
	catErr(t, "session of a deleted user", func() error { _, err := c.GetSession(ctx, "h3", now); return err }(), ErrNotFound)
	catErr(t, "deleting a missing user", c.DeleteUser(ctx, "bo"), ErrNotFound)

	// Rotating or deleting a token ends the sessions opened with it.
	if err := c.PutToken(ctx, Token{Name: "tok", Role: "monitor", Hash: "th1"}); err != nil {
		t.Fatal(err)
	}
	sess = Session{IDHash: "h4", Principal: "tok", Kind: SessionToken, Role: "monitor", CSRF: "c", ExpiresAt: now.Add(time.Hour), MaxAt: now.Add(time.Hour)}
	if err := c.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := c.PutToken(ctx, Token{Name: "tok", Role: "monitor", Hash: "th2"}); err != nil {
		t.Fatal(err)
	}
	catErr(t, "session of a rotated token", func() error { _, err := c.GetSession(ctx, "h4", now); return err }(), ErrNotFound)
	sess.IDHash = "h5"
	if err := c.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteToken(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	catErr(t, "session of a deleted token", func() error { _, err := c.GetSession(ctx, "h5", now); return err }(), ErrNotFound)

	sess.IDHash = "h6"
	sess.ExpiresAt = now.Add(-time.Minute)
	if err := c.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if n, err := c.PruneSessions(ctx, now); err != nil || n != 1 {
		t.Errorf("PruneSessions = %d, %v; want 1", n, err)
	}
}

func testCatalogCases(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "demo", 0)
	var ids []string
	for _, url := range []string{"http://x/1", "http://x/2"} {
		f, _, err := c.PutFlag(ctx, wildwatch.Flag{SweepID: "s1", CaptureID: "c-" + url, Target: "demo", URL: url, Score: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}
	catErr(t, "case without a name", c.PutCase(ctx, Case{ID: "k1"}), ErrInvalid)
	if err := c.PutCase(ctx, Case{ID: "k1", Name: "Ivory ring", CreatedBy: "ana"}); err != nil {
		t.Fatal(err)
	}
	catErr(t, "adding to a missing case", c.AddCaseFlags(ctx, "nope", "ana", ids[0]), ErrNotFound)
	catErr(t, "adding a missing flag", c.AddCaseFlags(ctx, "k1", "ana", "no-such-flag"), ErrNotFound)
	if err := c.AddCaseFlags(ctx, "k1", "ana", ids...); err != nil {
		t.Fatal(err)
	}
	if err := c.AddCaseFlags(ctx, "k1", "bo", ids[0]); err != nil { // again: kept as it was
		t.Fatal(err)
	}
	k, err := c.GetCase(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Flags) != 2 || k.Flags[0].AddedBy != "ana" || k.Name != "Ivory ring" {
		t.Fatalf("GetCase = %+v", k)
	}
	if err := c.RemoveCaseFlag(ctx, "k1", ids[1]); err != nil {
		t.Fatal(err)
	}
	catErr(t, "removing a flag not in the case", c.RemoveCaseFlag(ctx, "k1", ids[1]), ErrNotFound)
	ks, err := c.ListCases(ctx)
	if err != nil || len(ks) != 1 || ks[0].ID != "k1" {
		t.Fatalf("ListCases = %+v, %v", ks, err)
	}
	if err := c.DeleteCase(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	catErr(t, "deleted case", func() error { _, err := c.GetCase(ctx, "k1"); return err }(), ErrNotFound)
}
