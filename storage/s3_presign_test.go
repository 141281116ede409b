package storage

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A presigned URL is fetched with plain net/http, without credentials.
func TestS3PresignGet(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newTestS3(t, nil)
	const key, body = "captures/s1/c1/abc.warc.gz", "warc bytes, byte for byte"
	if _, err := s.Put(ctx, key, strings.NewReader(body), int64(len(body)), ContentTypeWARC); err != nil {
		t.Fatal(err)
	}
	var p Presigner = s
	u, err := p.PresignGet(ctx, key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("X-Amz-Expires"); got != "3600" {
		t.Errorf("X-Amz-Expires = %q, want 3600", got)
	}
	fetch := func(rawURL string) (int, string) {
		t.Helper()
		resp, err := http.Get(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, got := fetch(u.String()); code != http.StatusOK || got != body {
		t.Fatalf("GET presigned URL = %d %q, want 200 %q", code, got, body)
	}

	// The signature covers the key and the expiry.
	other := *u
	other.Path = strings.Replace(u.Path, "c1", "c2", 1)
	if code, _ := fetch(other.String()); code != http.StatusForbidden {
		t.Errorf("GET with another key in the path = %d, want 403", code)
	}
	q := u.Query()
	q.Set("X-Amz-Expires", "604800")
	longer := *u
	longer.RawQuery = q.Encode()
	if code, _ := fetch(longer.String()); code != http.StatusForbidden {
		t.Errorf("GET with a longer expiry = %d, want 403", code)
	}
	// Without the signature the bucket is not public.
	bare := *u
	bare.RawQuery = ""
	if code, _ := fetch(bare.String()); code != http.StatusForbidden {
		t.Errorf("GET without the signature = %d, want 403", code)
	}

	for _, d := range []time.Duration{0, time.Millisecond, MaxLinkLifetime + time.Second} {
		if _, err := p.PresignGet(ctx, key, d); !errors.Is(err, ErrInvalid) {
			t.Errorf("PresignGet(%v) = %v, want ErrInvalid", d, err)
		}
	}
	if _, err := p.PresignGet(ctx, "../etc", time.Hour); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("PresignGet of an invalid key = %v", err)
	}
}
