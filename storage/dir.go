package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/wildwatch/wildwatch"
)

// Dir is an evidence store in a local directory: the object at key
// "a/b/c.warc.gz" is the file <root>/a/b/c.warc.gz, so a copy of the
// directory is a copy of the evidence and `wildwatch verify` can read it
// without wildwatch running.
//
// Put writes to a temporary file under <root>/.tmp, fsyncs it, makes it
// read-only (0444) and hard-links it into place; link(2) fails when the
// target exists, so an object is never replaced, not even by a concurrent
// Put from another process. Dir keeps no metadata beside the files: an
// object's content type is derived from its key's extension (see
// ContentTypeForKey), and its modification time is the file's.
//
// A Dir is safe for concurrent use.
type Dir struct {
	root string
}

var _ wildwatch.EvidenceStore = (*Dir)(nil)

// dirTempName is the directory under the root where Put stages files. Keys
// cannot name it: a key segment never starts with '.'.
const dirTempName = ".tmp"

// NewDir returns the store rooted at root, creating the directory if needed.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("evidence directory: no path given")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("evidence directory %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("evidence directory: %w", err)
	}
	return &Dir{root: abs}, nil
}

// Root returns the directory's absolute path.
func (d *Dir) Root() string { return d.root }

// ErrInvalidKey reports an evidence key that a store refuses: empty, with an
// empty, "." or ".." segment, a segment starting with '.', a leading or
// trailing '/', a backslash or a control character.
var ErrInvalidKey = errors.New("invalid evidence key")

// validateKey checks key against the rules of ErrInvalidKey. Dir and S3
// apply the same rules so that evidence moves between them unchanged.
func validateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if strings.ContainsRune(key, '\\') {
		return fmt.Errorf("%w %q: backslash", ErrInvalidKey, key)
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w %q: control character", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("%w %q: empty segment, leading or trailing '/', or a segment starting with '.'", ErrInvalidKey, key)
		}
	}
	return nil
}

// path returns the file that holds key.
func (d *Dir) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

// Put implements wildwatch.EvidenceStore.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (wildwatch.ObjectInfo, error) {
	if err := validateKey(key); err != nil {
		return wildwatch.ObjectInfo{}, err
	}
	if size < 0 {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	target := d.path(key)
	if _, err := os.Lstat(target); err == nil {
		return wildwatch.ObjectInfo{}, dirExists(key, target)
	}

	tmpDir := filepath.Join(d.root, dirTempName)
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(tmpDir, "put-*")
	if err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // the linked name keeps the data
	if err := writeFileSynced(ctx, tmp, r, size); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}

	if err := d.mkdirSynced(filepath.Dir(target)); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	if err := os.Link(tmp.Name(), target); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return wildwatch.ObjectInfo{}, dirExists(key, target)
		}
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	return d.Stat(ctx, key)
}

// dirExists is the error for a Put whose target path exists: the object, or
// a directory of objects under key + "/", which the file system cannot hold
// beside a file named key.
func dirExists(key, target string) error {
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		return fmt.Errorf("storing %s: key is a prefix of other keys", key)
	}
	return fmt.Errorf("storing %s: %w", key, wildwatch.ErrObjectExists)
}

// writeFileSynced copies exactly size bytes from r into f, makes f
// read-only, fsyncs and closes it.
func writeFileSynced(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	n, err := io.Copy(f, io.LimitReader(ctxReader{ctx, r}, size))
	if err == nil && n < size {
		err = fmt.Errorf("reader gave %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	if err == nil {
		err = f.Chmod(0o444)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops reading once ctx is done, so a Put of a large object from
// a slow reader can be cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// mkdirSynced creates dir and its missing parents under the root, and
// fsyncs the parent of each so that the new directories survive a crash.
func (d *Dir) mkdirSynced(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for p := dir; p != d.root && strings.HasPrefix(p, d.root+string(filepath.Separator)); p = filepath.Dir(p) {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs a directory so that a new entry in it survives a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get implements wildwatch.EvidenceStore. The reader is the open file.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, wildwatch.ObjectInfo, error) {
	if err := validateKey(key); err != nil {
		return nil, wildwatch.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, wildwatch.ObjectInfo{}, fmt.Errorf("reading %s: %w", key, err)
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, wildwatch.ObjectInfo{}, dirError("reading", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, wildwatch.ObjectInfo{}, fmt.Errorf("reading %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, wildwatch.ObjectInfo{}, fmt.Errorf("reading %s: %w", key, wildwatch.ErrObjectNotFound)
	}
	return f, dirObjectInfo(key, fi), nil
}

// Stat implements wildwatch.EvidenceStore.
func (d *Dir) Stat(ctx context.Context, key string) (wildwatch.ObjectInfo, error) {
	if err := validateKey(key); err != nil {
		return wildwatch.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("describing %s: %w", key, err)
	}
	fi, err := os.Stat(d.path(key))
	if err != nil {
		return wildwatch.ObjectInfo{}, dirError("describing", key, err)
	}
	if !fi.Mode().IsRegular() {
		return wildwatch.ObjectInfo{}, fmt.Errorf("describing %s: %w", key, wildwatch.ErrObjectNotFound)
	}
	return dirObjectInfo(key, fi), nil
}

// List implements wildwatch.EvidenceStore. It walks only the directory
// that holds prefix, so listing one capture does not read the whole store.
func (d *Dir) List(ctx context.Context, prefix string) ([]wildwatch.ObjectInfo, error) {
	if strings.ContainsRune(prefix, '\\') {
		return nil, fmt.Errorf("listing %q: %w: backslash", prefix, ErrInvalidKey)
	}
	start := d.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirPart := prefix[:i]
		if err := validateKey(dirPart); err != nil {
			// No key can lie under a malformed directory.
			return []wildwatch.ObjectInfo{}, nil
		}
		start = d.path(dirPart)
	}
	objs := []wildwatch.ObjectInfo{}
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start {
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			// Skip directories that cannot hold a key with this prefix.
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		objs = append(objs, dirObjectInfo(key, fi))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", prefix, err)
	}
	slices.SortFunc(objs, func(a, b wildwatch.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

func dirObjectInfo(key string, fi fs.FileInfo) wildwatch.ObjectInfo {
	return wildwatch.ObjectInfo{
		Key:         key,
		Size:        fi.Size(),
		ContentType: ContentTypeForKey(key),
		Modified:    fi.ModTime().UTC(),
	}
}

// dirError maps a missing file, or a path through a file, to
// ErrObjectNotFound.
func dirError(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s %s: %w", op, key, wildwatch.ErrObjectNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// Content types of evidence objects.
const (
	ContentTypeWARC       = "application/warc"
	ContentTypeManifest   = "application/json"
	ContentTypeScreenshot = "image/png"
	ContentTypeDOM        = "text/html; charset=utf-8"
)

// ContentTypeForKey returns the content type Dir reports for key, from its
// extension: ContentTypeWARC for .warc and .warc.gz, ContentTypeManifest
// for .json, ContentTypeScreenshot for .png, ContentTypeDOM for .html,
// ContentTypeTimestamp for .tsr, the system's MIME table for others,
// application/octet-stream when unknown.
func ContentTypeForKey(key string) string {
	base := path.Base(key)
	switch {
	case strings.HasSuffix(base, ".warc.gz"), strings.HasSuffix(base, ".warc"):
		return ContentTypeWARC
	case strings.HasSuffix(base, ".json"):
		return ContentTypeManifest
	case strings.HasSuffix(base, ".png"):
		return ContentTypeScreenshot
	case strings.HasSuffix(base, ".html"):
		return ContentTypeDOM
	case strings.HasSuffix(base, ".tsr"):
		return ContentTypeTimestamp
	}
	if t := mime.TypeByExtension(path.Ext(base)); t != "" {
		return t
	}
	return "application/octet-stream"
}
