package storage

import (
	"archive/zip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// addObject streams an evidence object into the zip, stored as it is,
// and checks it against its manifest entry; a WARC is indexed on the way.
func (bw *bundleWriter) addObject(ctx context.Context, store wildwatch.EvidenceStore, o ManifestObject, name string, index *cdxIndex) error {
	rc, _, err := store.Get(ctx, o.Key)
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.Key, err)
	}
	defer rc.Close()
	fw, err := bw.create(name, zip.Store)
	if err != nil {
		return fmt.Errorf("adding %s: %w", name, err)
	}
	h := sha256.New()
	cw := &hashingWriter{w: fw, h: h}
	var indexErr error
	if index != nil {
		tee := io.TeeReader(rc, cw)
		if indexErr = index.indexWARC(tee, path.Base(name)); indexErr != nil {
			// Read on, so that a WARC that does not parse because it
			// changed is reported as changed.
			_, err = io.Copy(io.Discard, tee)
		}
	} else {
		_, err = io.Copy(cw, rc)
	}
	if err != nil {
		return fmt.Errorf("adding %s from %s: %w", name, o.Key, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if cw.n != o.Size || !strings.EqualFold(sum, o.SHA256) {
		return fmt.Errorf("%s has %d bytes with SHA-256 %s, its manifest says %d bytes with %s: %w",
			o.Key, cw.n, sum, o.Size, o.SHA256, ErrEvidenceChanged)
	}
	if indexErr != nil {
		return fmt.Errorf("indexing %s: %w", o.Key, indexErr)
	}
	bw.list(name, sum, cw.n)
	return nil
}

// bundledCapture is what addCapture put in the bundle for one capture.
type bundledCapture struct {
	manifest *Manifest
	files    []reportFile
	// screenshot is the capture's screenshot file, relative to the report.
	screenshot string
	// revisited are the manifests of the earlier captures whose responses
	// this capture's revisit records stand for.
	revisited []ManifestObject
	shot      *ManifestObject
}

// addCapture adds the capture whose manifest is at mkey: its WARC
// (indexed), its screenshot and the manifest as stored. The manifest must
// be capture id's, verify with pub and, when want is given, have want's
// SHA-256 and size; the objects must match it.
func (bw *bundleWriter) addCapture(ctx context.Context, store wildwatch.EvidenceStore, pub ed25519.PublicKey, mkey, id string, want *ManifestObject, index *cdxIndex) (*bundledCapture, error) {
	raw, err := readBounded(ctx, store, mkey, maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", id, err)
	}
	sum := sha256.Sum256(raw)
	sumHex := hex.EncodeToString(sum[:])
	if want != nil && (!strings.EqualFold(want.SHA256, sumHex) || want.Size != int64(len(raw))) {
		return nil, fmt.Errorf("capture %s: %s has %d bytes with SHA-256 %s, the revisit's manifest says %d bytes with %s: %w",
			id, mkey, len(raw), sumHex, want.Size, want.SHA256, ErrEvidenceChanged)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %s: %w", id, mkey, err)
	}
	if m.CaptureID != id {
		return nil, fmt.Errorf("capture %s: %s is the manifest of capture %s: %w", id, mkey, m.CaptureID, ErrEvidenceChanged)
	}
	if err := validateCaptureIDs(m.SweepID, m.CaptureID); err != nil {
		return nil, fmt.Errorf("capture %s: %w", id, err)
	}
	if err := m.Verify(pub); err != nil {
		return nil, fmt.Errorf("capture %s: %s: %w", id, mkey, err)
	}
	bc := &bundledCapture{manifest: m}
	warcs := 0
	for i, o := range m.Objects {
		var name string
		var idx *cdxIndex
		switch o.Role {
		case RoleWARC:
			name, idx = BundleWARCPath(id), index
			warcs++
		case RoleScreenshot:
			name = BundleScreenshotPath(id)
			bc.screenshot, bc.shot = "../"+name, &m.Objects[i]
		case RoleRevisitedManifest:
			bc.revisited = append(bc.revisited, o)
			continue
		default:
			continue // the rendered DOM is in the WARC; a revisited WARC comes with its capture
		}
		if warcs > 1 {
			return nil, fmt.Errorf("capture %s: manifest names more than one WARC", id)
		}
		if err := bw.addObject(ctx, store, o, name, idx); err != nil {
			return nil, fmt.Errorf("capture %s: %w", id, err)
		}
		bc.files = append(bc.files, reportFile{Path: name, Role: o.Role, SHA256: strings.ToLower(o.SHA256), Bytes: o.Size})
	}
	if warcs == 0 {
		return nil, fmt.Errorf("capture %s: manifest names no WARC", id)
	}
	mname := BundleManifestPath(id)
	if err := bw.addBytes(mname, raw, zip.Deflate); err != nil {
		return nil, fmt.Errorf("capture %s: %w", id, err)
	}
	bc.files = append(bc.files, reportFile{Path: mname, Role: "manifest", SHA256: sumHex, Bytes: int64(len(raw))})
	// The manifest's RFC 3161 timestamp, when it has one, goes beside it,
	// checked now so that a bundle never carries a token that fails.
	tsr, err := readBounded(ctx, store, timestampKeyFor(mkey), maxManifestBytes)
	switch {
	case errors.Is(err, wildwatch.ErrObjectNotFound):
	case err != nil:
		return nil, fmt.Errorf("capture %s: timestamp: %w", id, err)
	default:
		if _, err := VerifyTimestamp(tsr, sum); err != nil {
			return nil, fmt.Errorf("capture %s: timestamp %s: %w: %w", id, timestampKeyFor(mkey), err, ErrEvidenceChanged)
		}
		tname := BundleTimestampPath(id)
		if err := bw.addBytes(tname, tsr, zip.Deflate); err != nil {
			return nil, fmt.Errorf("capture %s: %w", id, err)
		}
		tsum := sha256.Sum256(tsr)
		bc.files = append(bc.files, reportFile{Path: tname, Role: "timestamp", SHA256: hex.EncodeToString(tsum[:]), Bytes: int64(len(tsr))})
	}
	return bc, nil
}

// reportItem is the capture's entry in the report, with what the catalog
// knows of it in it (nothing for an earlier capture a revisit refers to).
func (bc *bundledCapture) reportItem(it BundleItem) reportItem {
	ri := newReportItem(it, bc.manifest)
	ri.Files, ri.Screenshot, ri.shot = bc.files, bc.screenshot, bc.shot
	for _, o := range bc.revisited {
		ri.RevisitOf = append(ri.RevisitOf, captureIDOfKey(o.Key))
	}
	return ri
}

// captureIDOfKey returns the capture ID in an evidence key:
// captures/<sweep>/<capture>.manifest.json or
// captures/<sweep>/<capture>/<object>.
func captureIDOfKey(key string) string {
	if id, ok := strings.CutSuffix(path.Base(key), manifestSuffix); ok {
		return id
	}
	return path.Base(path.Dir(key))
}
