package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
