package storage

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testLinkSigner(t *testing.T, seed byte) *LinkSigner {
	t.Helper()
	s, err := NewSigner(ed25519.NewKeyFromSeed(bytes32(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return s.LinkSigner()
}

func bytes32(b byte) []byte {
	out := make([]byte, 32)
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}

func TestLinkSigner(t *testing.T) {
	t.Parallel()
	l := testLinkSigner(t, 1)
	exp := catTime.Add(24 * time.Hour)
	claims := LinkClaims{ID: NewLinkID(), Key: "captures/s1/c1/abc.warc.gz", Expires: exp}
	token, err := l.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(token, "/+=?#") {
		t.Errorf("token %q is not one URL path segment", token)
	}

	// Valid until its expiry, to the second.
	got, err := l.Open(token, exp.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "opened claims", got, LinkClaims{ID: claims.ID, Key: claims.Key, Expires: exp.Truncate(time.Second)})

	// Expired from its expiry on, still naming the link.
	got, err = l.Open(token, exp)
	if !errors.Is(err, ErrLinkExpired) || got.ID != claims.ID || !strings.Contains(err.Error(), exp.Truncate(time.Second).Format(time.RFC3339)) {
		t.Errorf("Open at expiry = %+v, %v; want ErrLinkExpired naming the expiry", got, err)
	}

	// Another deployment's key, a derived key from another signing key.
	if _, err := testLinkSigner(t, 2).Open(token, catTime); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("Open with another key: %v, want ErrLinkInvalid", err)
	}
	// The same signing key derives the same link key.
	if _, err := testLinkSigner(t, 1).Open(token, catTime); err != nil {
		t.Errorf("Open with the same key derived again: %v", err)
	}

	body, sig, _ := strings.Cut(token, ".")
	forge := func(p string) string { return base64.RawURLEncoding.EncodeToString([]byte(p)) + "." + sig }
	altered := map[string]string{
		"later expiry":        forge(`{"id":"` + claims.ID + `","key":"captures/s1/c1/abc.warc.gz","exp":9999999999}`),
		"other key":           forge(`{"id":"` + claims.ID + `","key":"captures/s1/c2/abc.warc.gz","exp":` + strconv.FormatInt(exp.Unix(), 10) + `}`),
		"flipped signature":   body + "." + flip(sig),
		"last character":      body + "." + sig[:len(sig)-1] + string(sig[len(sig)-1]^1),
		"no signature":        body,
		"empty signature":     body + ".",
		"signature elsewhere": sig + "." + body,
		"empty":               "",
	}
	for name, tok := range altered {
		if _, err := l.Open(tok, catTime); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: Open = %v, want ErrLinkInvalid", name, err)
		}
	}
	// Altering the expiry makes a link invalid, not expired: the signature
	// is checked first.
	if _, err := l.Open(forge(`{"id":"x","key":"k","exp":1}`), catTime); errors.Is(err, ErrLinkExpired) {
		t.Errorf("a forged past expiry reads as expired: %v", err)
	}
}

func TestLinkSignerRefuses(t *testing.T) {
	t.Parallel()
	if _, err := NewLinkSigner(make([]byte, 16)); err == nil {
		t.Error("NewLinkSigner accepted a 16-byte secret")
	}
	l, err := NewLinkSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]LinkClaims{
		"no id":       {Key: "k", Expires: catTime},
		"id with /":   {ID: "a/b", Key: "k", Expires: catTime},
		"bad key":     {ID: "a", Key: "../k", Expires: catTime},
		"no expiry":   {ID: "a", Key: "k"},
		"empty key":   {ID: "a", Expires: catTime},
		"id with a .": {ID: "a.b", Key: "k", Expires: catTime},
	} {
		if _, err := l.Sign(c); err == nil {
			t.Errorf("Sign(%s) succeeded", name)
		}
	}
}

// flip changes the first character of a base64url string.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
