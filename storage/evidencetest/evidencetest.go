// Package evidencetest is the conformance suite every
// wildwatch.EvidenceStore passes. A store's tests call Run with a function
// that returns a new, empty store for each subtest.
package evidencetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// Run runs the conformance suite. newStore is called once per subtest and
// must return an empty store that no other subtest uses; subtests run in
// parallel.
func Run(t *testing.T, newStore func(t *testing.T) wildwatch.EvidenceStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s wildwatch.EvidenceStore)
	}{
		{"RoundTrip", testRoundTrip},
		{"ContentType", testContentType},
		{"List", testList},
		{"ExistsKeepsOriginal", testExistsKeepsOriginal},
		{"NotFound", testNotFound},
		{"ShortReader", testShortReader},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentDistinctKeys", testConcurrentDistinctKeys},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// Bytes returns n pseudo-random bytes, the same for the same seed.
func Bytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func allByteValues() []byte {
	b := make([]byte, 0, 512)
	for i := range 256 {
		b = append(b, byte(i))
	}
	for i := range 256 {
		b = append(b, byte(255-i))
	}
	return b
}

func put(t *testing.T, s wildwatch.EvidenceStore, key string, data []byte, contentType string) wildwatch.ObjectInfo {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), contentType)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
	return info
}

// get reads the object at key, checking that the ObjectInfo agrees with
// the bytes read.
func get(t *testing.T, s wildwatch.EvidenceStore, key string) []byte {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(got)) {
		t.Errorf("Get(%q) info = {Key:%q Size:%d}, read %d bytes", key, info.Key, info.Size, len(got))
	}
	return got
}

func testRoundTrip(t *testing.T, s wildwatch.EvidenceStore) {
	objects := []struct {
		key  string
		data []byte
	}{
		{"captures/s1/empty.bin", nil},
		{"captures/s1/one.bin", []byte{0}},
		{"captures/s1/text.txt", []byte("pangolin scales, 2 kg\r\n象牙\n")},
		{"captures/s1/bytes.bin", allByteValues()},
		{"captures/s1/c1/large.warc.gz", Bytes(1, 5<<20+123)},
	}
	for _, o := range objects {
		info := put(t, s, o.key, o.data, "application/octet-stream")
		if info.Key != o.key || info.Size != int64(len(o.data)) {
			t.Errorf("Put(%q) = {Key:%q Size:%d}, want size %d", o.key, info.Key, info.Size, len(o.data))
		}
	}
	for _, o := range objects {
		got := get(t, s, o.key)
		if !bytes.Equal(got, o.data) {
			t.Errorf("Get(%q) returned %d bytes that differ from the %d put (first difference at %d)",
				o.key, len(got), len(o.data), firstDiff(got, o.data))
		}
		st, err := s.Stat(context.Background(), o.key)
		if err != nil {
			t.Fatalf("Stat(%q): %v", o.key, err)
		}
		if st.Key != o.key || st.Size != int64(len(o.data)) || st.Modified.IsZero() {
			t.Errorf("Stat(%q) = %+v, want size %d and a modification time", o.key, st, len(o.data))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// testContentType checks the content types of evidence objects, which every
// store reports the same way (Dir derives them from the extension).
func testContentType(t *testing.T, s wildwatch.EvidenceStore) {
	tests := []struct{ key, contentType string }{
		{"captures/s/c/0123456789abcdef.warc.gz", "application/warc"},
		{"captures/s/c.manifest.json", "application/json"},
	}
	for _, tt := range tests {
		info := put(t, s, tt.key, []byte("{}"), tt.contentType)
		if info.ContentType != tt.contentType {
			t.Errorf("Put(%q).ContentType = %q, want %q", tt.key, info.ContentType, tt.contentType)
		}
		st, err := s.Stat(context.Background(), tt.key)
		if err != nil {
			t.Fatal(err)
		}
		if st.ContentType != tt.contentType {
			t.Errorf("Stat(%q).ContentType = %q, want %q", tt.key, st.ContentType, tt.contentType)
		}
		rc, gi, err := s.Get(context.Background(), tt.key)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if gi.ContentType != tt.contentType {
			t.Errorf("Get(%q) ContentType = %q, want %q", tt.key, gi.ContentType, tt.contentType)
		}
	}
}

func testList(t *testing.T, s wildwatch.EvidenceStore) {
	// "a-b" sorts before "a/1" ('-' < '/') although a directory walk
	// visits "a" before "a-b".
	keys := []string{"b/1", "a/2", "a/10", "ab", "a/b/3", "a/1", "c-d/x.json", "a/b/c/4", "a-b"}
	for i, k := range keys {
		put(t, s, k, bytes.Repeat([]byte{'x'}, i), "application/octet-stream")
	}
	size := map[string]int64{}
	for i, k := range keys {
		size[k] = int64(i)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-b", "a/1", "a/10", "a/2", "a/b/3", "a/b/c/4", "ab", "b/1", "c-d/x.json"}},
		{"a/", []string{"a/1", "a/10", "a/2", "a/b/3", "a/b/c/4"}},
		{"a", []string{"a-b", "a/1", "a/10", "a/2", "a/b/3", "a/b/c/4", "ab"}},
		{"a-", []string{"a-b"}},
		{"a/1", []string{"a/1", "a/10"}},
		{"a/b", []string{"a/b/3", "a/b/c/4"}},
		{"a/b/", []string{"a/b/3", "a/b/c/4"}},
		{"a/b/c/4", []string{"a/b/c/4"}},
		{"c-d/", []string{"c-d/x.json"}},
		{"z", nil},
		{"a/z/", nil},
		{"b/1/", nil},
	}
	for _, tt := range tests {
		got, err := s.List(context.Background(), tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		var gotKeys []string
		for _, o := range got {
			gotKeys = append(gotKeys, o.Key)
			if o.Size != size[o.Key] {
				t.Errorf("List(%q): %s has size %d, want %d", tt.prefix, o.Key, o.Size, size[o.Key])
			}
		}
		if !slices.Equal(gotKeys, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, gotKeys, tt.want)
		}
	}
}

func testExistsKeepsOriginal(t *testing.T, s wildwatch.EvidenceStore) {
	const key = "captures/s/c.manifest.json"
	original := []byte(`{"original":true}`)
	put(t, s, key, original, "application/json")
	for _, replacement := range [][]byte{[]byte(`{"original":false}`), original, nil} {
		_, err := s.Put(context.Background(), key, bytes.NewReader(replacement), int64(len(replacement)), "application/json")
		if !errors.Is(err, wildwatch.ErrObjectExists) {
			t.Errorf("second Put(%q) = %v, want ErrObjectExists", key, err)
		}
	}
	if got := get(t, s, key); !bytes.Equal(got, original) {
		t.Errorf("after refused Puts, %q holds %q, want %q", key, got, original)
	}
}

func testNotFound(t *testing.T, s wildwatch.EvidenceStore) {
	put(t, s, "dir/obj", []byte("x"), "application/octet-stream")
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/obj/below"} {
		if _, err := s.Stat(context.Background(), key); !errors.Is(err, wildwatch.ErrObjectNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrObjectNotFound", key, err)
		}
		rc, _, err := s.Get(context.Background(), key)
		if !errors.Is(err, wildwatch.ErrObjectNotFound) {
			t.Errorf("Get(%q) = %v, want ErrObjectNotFound", key, err)
		}
		if rc != nil {
			rc.Close()
		}
	}
	if objs, err := s.List(context.Background(), "missing/"); err != nil || len(objs) != 0 {
		t.Errorf("List(missing/) = %v, %v; want nothing", objs, err)
	}
}

// testShortReader puts a reader that ends before size: the Put fails and
// leaves no object behind.
func testShortReader(t *testing.T, s wildwatch.EvidenceStore) {
	const key = "short"
	_, err := s.Put(context.Background(), key, strings.NewReader("abc"), 10, "application/octet-stream")
	if err == nil {
		t.Fatal("Put of 3 bytes announced as 10 succeeded")
	}
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, wildwatch.ErrObjectNotFound) {
		t.Errorf("after a failed Put, Stat = %v, want ErrObjectNotFound", err)
	}
}

func testInvalidKeys(t *testing.T, s wildwatch.EvidenceStore) {
	for _, key := range []string{"", "/abs", "a/../b", "..", "a/./b", `a\b`, "a//b", "trailing/", ".hidden", "a/.tmp/b", "nul\x00"} {
		if _, err := s.Put(context.Background(), key, strings.NewReader("x"), 1, "text/plain"); err == nil {
			t.Errorf("Put(%q) succeeded, want an invalid key error", key)
		}
		if _, err := s.Stat(context.Background(), key); err == nil || errors.Is(err, wildwatch.ErrObjectNotFound) {
			t.Errorf("Stat(%q) = %v, want an invalid key error", key, err)
		}
	}
}

func testConcurrentDistinctKeys(t *testing.T, s wildwatch.EvidenceStore) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			data := Bytes(uint64(i), 1000+i)
			_, errs[i] = s.Put(context.Background(), fmt.Sprintf("par/%02d", i), bytes.NewReader(data), int64(len(data)), "application/octet-stream")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put par/%02d: %v", i, err)
		}
	}
	objs, err := s.List(context.Background(), "par/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != n {
		t.Fatalf("List(par/) has %d objects, want %d", len(objs), n)
	}
	for i := range n {
		if got, want := get(t, s, fmt.Sprintf("par/%02d", i)), Bytes(uint64(i), 1000+i); !bytes.Equal(got, want) {
			t.Errorf("par/%02d differs from what was put", i)
		}
	}
}

// testConcurrentSameKey races puts of one key: exactly one wins, the others
// get ErrObjectExists, and the stored bytes are the winner's.
func testConcurrentSameKey(t *testing.T, s wildwatch.EvidenceStore) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			data := Bytes(uint64(100+i), 4096)
			_, errs[i] = s.Put(context.Background(), "race", bytes.NewReader(data), int64(len(data)), "application/octet-stream")
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("puts %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, wildwatch.ErrObjectExists):
			t.Errorf("put %d: %v, want nil or ErrObjectExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no put succeeded")
	}
	if got := get(t, s, "race"); !bytes.Equal(got, Bytes(uint64(100+winner), 4096)) {
		t.Error("stored object is not the successful put's")
	}
}

func testCancelledContext(t *testing.T, s wildwatch.EvidenceStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, "cancelled", strings.NewReader("x"), 1, "text/plain"); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := s.Stat(context.Background(), "cancelled"); !errors.Is(err, wildwatch.ErrObjectNotFound) {
		t.Errorf("after a cancelled Put, Stat = %v, want ErrObjectNotFound", err)
	}
	if _, err := s.Stat(ctx, "cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context = %v, want context.Canceled", err)
	}
}
