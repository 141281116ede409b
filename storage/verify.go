package storage

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// VerifyResult is the outcome of checking one capture's evidence.
type VerifyResult struct {
	CaptureID   string `json:"capture_id"`
	ManifestKey string `json:"manifest_key"`
	// OK reports that the signature verifies and every object matches its
	// manifest entry.
	OK bool `json:"ok"`
	// Problems says what failed, one line each, naming the object.
	Problems []string `json:"problems,omitempty"`
	// TimestampStatus says whether an RFC 3161 timestamp of the manifest is
	// stored beside it and verifies: TimestampVerified, TimestampNone or
	// TimestampInvalid (a Problem says why). Empty when the manifest could
	// not be read.
	TimestampStatus string `json:"timestamp_status,omitempty"`
	// Timestamp is what a verified timestamp attests, its time first.
	Timestamp *Timestamp `json:"timestamp,omitempty"`
}

func (r *VerifyResult) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// VerifyCapture checks the capture whose manifest is at manifestKey in
// store: that the manifest parses, is stored under the key its sweep and
// capture IDs give, and carries a valid signature by pub; then that every
// object it names, whatever its role (the WARC, a rendered capture's
// screenshot and DOM), exists with the size and SHA-256 it states; and that
// the RFC 3161 timestamp stored beside the manifest, if there is one,
// covers the manifest's bytes and is signed by the certificate it carries
// (VerifyTimestamp); a capture without one is reported as TimestampNone.
// Findings are Problems in the result; the error is for failures to check
// at all (the manifest is missing, the store cannot be read, ctx ended).
func VerifyCapture(ctx context.Context, store wildwatch.EvidenceStore, manifestKey string, pub ed25519.PublicKey) (VerifyResult, error) {
	res := VerifyResult{ManifestKey: manifestKey}
	data, m, err := readManifestData(ctx, store, manifestKey)
	if err != nil {
		var perr *manifestParseError
		if !errors.As(err, &perr) {
			return res, fmt.Errorf("verifying %s: %w", manifestKey, err)
		}
		res.problem("manifest: %v", perr.err)
		return res, nil
	}
	res.CaptureID = m.CaptureID
	if want := ManifestKey(m.SweepID, m.CaptureID); want != manifestKey {
		res.problem("manifest of sweep %q capture %q is stored under %s, not %s", m.SweepID, m.CaptureID, manifestKey, want)
	}
	if err := m.Verify(pub); err != nil {
		res.problem("signature: %v", err)
	}
	if !slices.ContainsFunc(m.Objects, func(o ManifestObject) bool { return o.Role == RoleWARC }) {
		res.problem("manifest names no %s object", RoleWARC)
	}
	for _, o := range m.Objects {
		if err := verifyObject(ctx, store, o, &res); err != nil {
			return res, fmt.Errorf("verifying %s: %w", manifestKey, err)
		}
	}
	if err := verifyManifestTimestamp(ctx, store, manifestKey, data, &res); err != nil {
		return res, fmt.Errorf("verifying %s: %w", manifestKey, err)
	}
	res.OK = len(res.Problems) == 0
	return res, nil
}

// verifyObject adds a problem when o is missing or differs from its
// manifest entry.
func verifyObject(ctx context.Context, store wildwatch.EvidenceStore, o ManifestObject, res *VerifyResult) error {
	rc, _, err := store.Get(ctx, o.Key)
	if errors.Is(err, wildwatch.ErrObjectNotFound) || errors.Is(err, ErrInvalidKey) {
		res.problem("object %s: missing", o.Key)
		return nil
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.Key, err)
	}
	if n != o.Size {
		res.problem("object %s: %d bytes, manifest says %d", o.Key, n, o.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(sum, o.SHA256) {
		res.problem("object %s: SHA-256 %s, manifest says %s", o.Key, sum, o.SHA256)
	}
	return nil
}

// VerifyPath verifies evidence in a directory store, for `wildwatch verify`.
// path is a manifest file or a directory, walked for *.manifest.json files
// (directories whose names start with '.' are skipped). Each manifest's
// store root is its path less its key, captures/<sweep>/<capture>.manifest.json.
// Results come in path order; a directory without manifests is an error.
func VerifyPath(ctx context.Context, path string, pub ed25519.PublicKey) ([]VerifyResult, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", path, err)
	}
	var files []string
	if fi.IsDir() {
		err := filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && p != path && strings.HasPrefix(e.Name(), ".") {
				return fs.SkipDir
			}
			if !e.IsDir() && strings.HasSuffix(e.Name(), manifestSuffix) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("verifying %s: %w", path, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("verifying %s: no *%s files", path, manifestSuffix)
		}
	} else {
		files = []string{path}
	}

	stores := map[string]*Dir{}
	results := make([]VerifyResult, 0, len(files))
	for _, f := range files {
		root, key, err := splitManifestPath(f)
		if err != nil {
			return results, fmt.Errorf("verifying %s: %w", f, err)
		}
		d := stores[root]
		if d == nil {
			if d, err = NewDir(root); err != nil {
				return results, fmt.Errorf("verifying %s: %w", f, err)
			}
			stores[root] = d
		}
		res, err := VerifyCapture(ctx, d, key, pub)
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

// splitManifestPath splits a manifest file's path into the store root and
// the manifest's key, captures/<sweep>/<capture>.manifest.json.
func splitManifestPath(path string) (root, key string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	name := filepath.Base(abs)
	sweepDir := filepath.Dir(abs)
	capturesDir := filepath.Dir(sweepDir)
	if !strings.HasSuffix(name, manifestSuffix) || filepath.Base(capturesDir) != "captures" {
		return "", "", fmt.Errorf("a manifest must be at <store>/captures/<sweep>/<capture>%s", manifestSuffix)
	}
	key = "captures/" + filepath.Base(sweepDir) + "/" + name
	if err := validateKey(key); err != nil {
		return "", "", err
	}
	return filepath.Dir(capturesDir), key, nil
}
