package storage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage/evidencetest"
)

func TestDirConformance(t *testing.T) {
	t.Parallel()
	evidencetest.Run(t, func(t *testing.T) wildwatch.EvidenceStore {
		d, err := NewDir(filepath.Join(t.TempDir(), "evidence"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestDirFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "captures/s1/c1/0011223344556677.warc.gz"
	if _, err := d.Put(ctx, key, strings.NewReader("warc"), 4, ContentTypeWARC); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(filepath.Join(root, "captures", "s1", "c1", "0011223344556677.warc.gz"))
	if err != nil {
		t.Fatalf("object is not at its key's path: %v", err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("object mode = %v, want 0444", fi.Mode().Perm())
	}
	tmp, err := os.ReadDir(filepath.Join(root, dirTempName))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmp) != 0 {
		t.Errorf("%d staging files left in %s", len(tmp), dirTempName)
	}

	// A key and keys below it cannot both exist in a file system; the error
	// must not claim the object exists.
	_, err = d.Put(ctx, "captures/s1/c1", strings.NewReader("x"), 1, "")
	if err == nil || errors.Is(err, wildwatch.ErrObjectExists) {
		t.Errorf("Put over a directory = %v, want a non-ErrObjectExists error", err)
	}

	// The staging directory never shows in listings.
	objs, err := d.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Key != key {
		t.Errorf("List = %+v, want only %s", objs, key)
	}
}

func TestNewDirErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewDir(""); err == nil {
		t.Error("NewDir(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDir(file); err == nil {
		t.Error("NewDir on a regular file succeeded")
	}
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key string
		ok  bool
	}{
		{"captures/s/c.manifest.json", true},
		{"a", true},
		{"a b/ü/象牙", true},
		{"a..b/c", true},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"..", false},
		{"a/../b", false},
		{".", false},
		{"a/./b", false},
		{".tmp/x", false},
		{`a\b`, false},
		{"a\nb", false},
		{"a\x7fb", false},
	}
	for _, tt := range tests {
		err := validateKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("validateKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("validateKey(%q) = %v, not ErrInvalidKey", tt.key, err)
		}
	}
}

func TestContentTypeForKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ key, want string }{
		{"captures/s/c/ab.warc.gz", ContentTypeWARC},
		{"x.warc", ContentTypeWARC},
		{"captures/s/c.manifest.json", "application/json"},
		{"captures/s/c/0011223344556677.png", "image/png"},
		{"captures/s/c/0011223344556677.html", "text/html; charset=utf-8"},
		{"noext", "application/octet-stream"},
		{"x.unknownextension", "application/octet-stream"},
	}
	for _, tt := range tests {
		if got := ContentTypeForKey(tt.key); got != tt.want {
			t.Errorf("ContentTypeForKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// TestDirEvidenceReadOnly records a rendered, timestamped capture and
// checks every file it left: regular, read-only (0444) and with one name
// only (the staging link is gone, so nothing else can write the data).
func TestDirEvidenceReadOnly(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	tsa := newTestTSA(t, tsaOK)
	ev := &Evidence{Store: d, Signer: testSigner(t), Timestamper: newTestTimestamper(t, tsa.URL), Logger: testLogger(t)}
	m, err := ev.Record(context.Background(), testWARCParams(testRendered(testCapture("c1", []byte("<html>tiger bone wine</html>")))))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{ManifestKey("sweep-1", "c1"): true, TimestampKey("sweep-1", "c1"): true}
	for _, o := range m.Objects {
		want[o.Key] = true
	}
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := filepath.ToSlash(rel)
		if !want[key] {
			t.Errorf("unexpected file %s", key)
			return nil
		}
		delete(want, key)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o444 {
			t.Errorf("%s: mode %v, want a regular file with mode 0444", key, fi.Mode())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
			t.Errorf("%s: %d links, want 1", key, st.Nlink)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range want {
		t.Errorf("%s was not written", key)
	}
}

// TestDirNeverOverwrites: a Put never replaces or changes what is at its
// key, whoever put it there and whatever it is.
func TestDirNeverOverwrites(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type fileState struct {
		data  []byte
		mode  fs.FileMode
		ino   uint64
		mtime int64
	}
	state := func(p string) fileState {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		s := fileState{mode: fi.Mode(), mtime: fi.ModTime().UnixNano()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			s.ino = st.Ino
		}
		if fi.Mode().IsRegular() {
			if s.data, err = os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	putRefused := func(store *Dir, key string) {
		t.Helper()
		p := d.path(key)
		before := state(p)
		_, err := store.Put(ctx, key, strings.NewReader("replacement"), 11, "")
		if !errors.Is(err, wildwatch.ErrObjectExists) {
			t.Errorf("Put over %s = %v, want ErrObjectExists", key, err)
		}
		after := state(p)
		if !bytes.Equal(before.data, after.data) || before.mode != after.mode || before.ino != after.ino || before.mtime != after.mtime {
			t.Errorf("Put over %s changed the file: %+v → %+v", key, before, after)
		}
	}

	// An object this store wrote, refused to this store and to another
	// Dir on the same root (as another process would open it).
	if _, err := d.Put(ctx, "captures/s/c.manifest.json", strings.NewReader("{}"), 2, ContentTypeManifest); err != nil {
		t.Fatal(err)
	}
	putRefused(d, "captures/s/c.manifest.json")
	other, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	putRefused(other, "captures/s/c.manifest.json")

	// A writable file another program left at a key: neither replaced nor
	// made read-only behind its owner's back.
	writable := d.path("captures/s/writable.json")
	if err := os.WriteFile(writable, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	putRefused(d, "captures/s/writable.json")

	// A symbolic link at a key: Put neither follows it nor replaces it.
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.Symlink(outside, d.path("captures/s/link.json")); err != nil {
		t.Fatal(err)
	}
	putRefused(d, "captures/s/link.json")
	if _, err := os.Lstat(outside); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Put through a symbolic link created its target: %v", err)
	}
}
