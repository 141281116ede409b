package api

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with the set parameters", h)
	}
	h2, _ := HashPassword("a long enough password")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"a long enough password": true, "a long enough passwore": false, "": false} {
		ok, err := CheckPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if _, err := HashPassword("short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5", h[:strings.LastIndexByte(h, '$')+1]} {
		if ok, err := CheckPassword(bad, "a long enough password"); ok || err == nil {
			t.Errorf("CheckPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}

func TestLoginThrottle(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLoginThrottle()
	l.now = func() time.Time { return now }
	for range maxFailsPerUser {
		if d := l.wait("user:ana", "ip:10.0.0.1"); d != 0 {
			t.Fatalf("throttled before the limit: %v", d)
		}
		l.fail("user:ana", "ip:10.0.0.1")
		now = now.Add(time.Minute)
	}
	if d := l.wait("user:ana"); d != l.window-maxFailsPerUser*time.Minute {
		t.Errorf("wait after %d failures = %v, want until the first leaves the window", maxFailsPerUser, d)
	}
	if d := l.wait("user:bo", "ip:10.0.0.1"); d != 0 {
		t.Errorf("another user from the same address is throttled after %d failures: %v", maxFailsPerUser, d)
	}
	now = now.Add(l.window)
	if d := l.wait("user:ana"); d != 0 {
		t.Errorf("still throttled after the window: %v", d)
	}
	for range maxFailsPerUser {
		l.fail("user:cy")
	}
	l.succeed("user:cy")
	if d := l.wait("user:cy"); d != 0 {
		t.Errorf("throttled after a success: %v", d)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/flags?x=1": "/flags?x=1", "": "/", "https://e.x/": "/", "//e.x/": "/", "/\\e.x": "/", "flags": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
