package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

func TestUserCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	wild := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(ctx, append(args, "--data", dir), streams{in: strings.NewReader(stdin), out: &out, err: &errb},
			func(string) string { return "" })
		return code, out.String(), errb.String()
	}
	openCat := func() *storage.Catalog {
		t.Helper()
		cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: dir + "/wildwatch.db"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		return cat
	}
	password := func(name, pw string) bool {
		t.Helper()
		cat := openCat()
		u, err := cat.GetUser(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := api.CheckPassword(u.Password, pw)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if code, _, stderr := wild("first password\n", "user", "add", "rosa", "--role", "investigator"); code != 0 {
		t.Fatalf("user add: exit %d: %s", code, stderr)
	}
	if !password("rosa", "first password") || password("rosa", "first password\n") {
		t.Error("the stored hash does not match the line read")
	}
	if code, _, _ := wild("another password\n", "user", "add", "rosa", "--role", "admin"); code == 0 {
		t.Error("adding an existing user succeeded")
	}
	if code, _, _ := wild("long enough password\n", "user", "add", "kim lee", "--role", "monitor"); code != 2 {
		t.Error("a user name with a space was accepted")
	}
	if code, _, _ := wild("short\n", "user", "add", "kim", "--role", "monitor"); code == 0 {
		t.Error("a password shorter than the minimum was accepted")
	}
	if code, _, _ := wild("long enough password\n", "user", "add", "kim", "--role", "boss"); code != 2 {
		t.Errorf("an unknown role: exit %d, want 2", code)
	}
	if code, _, stderr := wild("", "user", "add", "kim", "--role", "monitor"); code == 0 || !strings.Contains(stderr, "no password") {
		t.Errorf("no password on stdin: exit %d, %q", code, stderr)
	}

	if code, _, stderr := wild("second password\n", "user", "passwd", "rosa"); code != 0 {
		t.Fatalf("user passwd: exit %d: %s", code, stderr)
	}
	if password("rosa", "first password") || !password("rosa", "second password") {
		t.Error("passwd did not replace the password")
	}
	if code, _, stderr := wild("", "user", "disable", "rosa"); code != 0 {
		t.Fatalf("user disable: exit %d: %s", code, stderr)
	}
	code, out, _ := wild("", "user", "list")
	if code != 0 || !strings.Contains(out, "rosa") || !strings.Contains(out, "investigator") || !strings.Contains(out, "disabled") {
		t.Errorf("user list after disable: exit %d\n%s", code, out)
	}
	if code, _, _ := wild("", "user", "enable", "rosa"); code != 0 {
		t.Fatal("user enable failed")
	}
	if u, err := openCat().GetUser(ctx, "rosa"); err != nil || u.Disabled {
		t.Errorf("after enable: %+v %v", u, err)
	}
	if code, _, _ := wild("", "user", "delete", "rosa"); code != 0 {
		t.Fatal("user delete failed")
	}
	if _, err := openCat().GetUser(ctx, "rosa"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if code, _, _ := wild("", "user", "delete", "rosa"); code == 0 {
		t.Error("deleting an unknown user succeeded")
	}
}
