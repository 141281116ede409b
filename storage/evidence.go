package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/wildwatch/wildwatch"
)

// Evidence records captures as evidence in a store: a WARC and a signed
// manifest per capture, and for a rendered capture its screenshot and DOM.
type Evidence struct {
	Store  wildwatch.EvidenceStore
	Signer *Signer
	// Timestamper, when set, has each new manifest timestamped (RFC 3161)
	// once it is stored; the answer is kept under TimestampKey. A failed
	// timestamp is logged and leaves the capture recorded without one.
	Timestamper Timestamper
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// maxManifestBytes bounds how much of a stored manifest is read.
const maxManifestBytes = 1 << 20

// Record writes a capture's evidence and returns its signed manifest:
//
//  1. the WARC (WriteWARC) under
//     captures/<sweep>/<capture>/<first 16 hex of its SHA-256>.warc.gz
//     (role RoleWARC);
//  2. for a rendered capture, the screenshot under
//     captures/<sweep>/<capture>/<first 16 hex of its SHA-256>.png (role
//     RoleScreenshot, ContentTypeScreenshot) and the rendered DOM under
//     …/<first 16 hex of its SHA-256>.html (role RoleDOM, ContentTypeDOM),
//     each left out when empty. The WARC holds the same bytes in resource
//     records; these objects let them be served and verified alone;
//  3. the manifest, naming every object above with its SHA-256 and size in
//     that order, signed, under ManifestKey(sweep, capture). A screenshot
//     or DOM equal to an object of p.Earlier is not stored again: the
//     manifest names the earlier object in its place. For a revisit
//     (p.Revisit), the WARC and manifest of the revisited capture follow,
//     with roles RoleRevisitedWARC and RoleRevisitedManifest;
//  4. with a Timestamper, an RFC 3161 timestamp over the manifest's SHA-256
//     under TimestampKey(sweep, capture).
//
// The manifest is written last and once, so a capture is recorded exactly
// when its manifest exists. Record is idempotent: when the manifest exists
// already it writes nothing and returns the stored manifest. A retry after
// a crash before the manifest was written makes a new WARC (record IDs are
// random, hence a new content-addressed key) rather than colliding with the
// orphaned one, which no manifest names; the screenshot and DOM keys are the
// same again, and the stored objects are reused when their size agrees.
//
// With p.FirstAttempt Record does not read the manifest first. When one
// exists all the same (an attempt cut short without being counted as one),
// the manifest write is refused (wildwatch.ErrObjectExists) and Record
// returns the stored manifest, as it does when a concurrent Record wins;
// the WARC it wrote stays an orphan.
func (e *Evidence) Record(ctx context.Context, p WARCParams) (*Manifest, error) {
	if e.Store == nil || e.Signer == nil {
		return nil, errors.New("recording evidence: store and signer are required")
	}
	c := p.Capture
	if c == nil {
		return nil, errors.New("recording evidence: no capture")
	}
	if err := validateCaptureIDs(c.SweepID, c.ID); err != nil {
		return nil, fmt.Errorf("recording evidence: %w", err)
	}
	log := e.logger().With("sweep", c.SweepID, "capture", c.ID)
	mkey := ManifestKey(c.SweepID, c.ID)

	if !p.FirstAttempt {
		if m, err := e.stored(ctx, mkey); err == nil {
			log.Debug("capture already recorded", "manifest", mkey)
			return m, nil
		} else if !errors.Is(err, wildwatch.ErrObjectNotFound) {
			return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
		}
	}

	var warc bytes.Buffer
	if err := WriteWARC(&warc, p); err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	objects := []evidenceObject{{RoleWARC, ".warc.gz", ContentTypeWARC, warc.Bytes()}}
	if r := c.Rendered; r != nil {
		objects = append(objects,
			evidenceObject{RoleScreenshot, ".png", ContentTypeScreenshot, r.Screenshot},
			evidenceObject{RoleDOM, ".html", ContentTypeDOM, r.DOM})
	}

	m := NewManifest(p)
	prefix := captureObjectPrefix(c.SweepID, c.ID)
	for _, o := range objects {
		if len(o.data) == 0 {
			continue
		}
		if earlier, ok := p.earlierObject(o.role, o.data); ok {
			m.Objects = append(m.Objects, earlier)
			continue
		}
		mo, err := e.put(ctx, prefix, o)
		if err != nil {
			return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
		}
		m.Objects = append(m.Objects, mo)
	}
	m.Objects = append(m.Objects, p.revisitObjects()...)
	if err := e.Signer.Sign(m); err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	_, err = e.Store.Put(ctx, mkey, bytes.NewReader(data), int64(len(data)), ContentTypeManifest)
	if errors.Is(err, wildwatch.ErrObjectExists) {
		// A concurrent Record of the same capture won, or an earlier
		// attempt did (p.FirstAttempt); its manifest stands.
		log.Info("capture recorded already; keeping the stored manifest", "orphan", m.Objects[0].Key)
		stored, err := e.stored(ctx, mkey)
		if err != nil {
			return nil, fmt.Errorf("recording capture %s: reading the stored manifest: %w", c.ID, err)
		}
		return stored, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	e.timestampManifest(ctx, log, mkey, data)
	log.Debug("capture recorded", "manifest", mkey, "objects", len(m.Objects), "warc", m.Objects[0].Key, "bytes", warc.Len())
	return m, nil
}

// evidenceObject is one object of a capture to store.
type evidenceObject struct {
	role, ext, contentType string
	data                   []byte
}

// put stores o under prefix + the first 16 hex digits of its SHA-256 + its
// extension and returns its manifest entry. An object already stored under
// that key with the same size is taken to be these bytes: the key names
// their digest, and another attempt of this capture stored them.
func (e *Evidence) put(ctx context.Context, prefix string, o evidenceObject) (ManifestObject, error) {
	sum := sha256.Sum256(o.data)
	digest := hex.EncodeToString(sum[:])
	key := prefix + digest[:16] + o.ext
	size := int64(len(o.data))
	_, err := e.Store.Put(ctx, key, bytes.NewReader(o.data), size, o.contentType)
	if errors.Is(err, wildwatch.ErrObjectExists) {
		var info wildwatch.ObjectInfo
		info, err = e.Store.Stat(ctx, key)
		if err == nil && info.Size != size {
			err = fmt.Errorf("%s exists with %d bytes, not %d", key, info.Size, size)
		}
	}
	if err != nil {
		return ManifestObject{}, fmt.Errorf("storing %s: %w", o.role, err)
	}
	return ManifestObject{Key: key, Role: o.role, SHA256: digest, Size: size, ContentType: o.contentType}, nil
}

func (e *Evidence) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// stored reads and parses the manifest at key.
func (e *Evidence) stored(ctx context.Context, key string) (*Manifest, error) {
	return readManifest(ctx, e.Store, key)
}

func readManifest(ctx context.Context, store wildwatch.EvidenceStore, key string) (*Manifest, error) {
	_, m, err := readManifestData(ctx, store, key)
	return m, err
}

// readManifestData reads the manifest at key and returns its bytes as
// stored and its parsed form.
func readManifestData(ctx context.Context, store wildwatch.EvidenceStore, key string) ([]byte, *Manifest, error) {
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading manifest %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, nil, &manifestParseError{key, fmt.Errorf("larger than %d bytes", maxManifestBytes)}
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, nil, &manifestParseError{key, err}
	}
	return data, m, nil
}

// manifestParseError is a stored manifest that could be read but is not a
// manifest: for VerifyCapture a finding, not a failure to check.
type manifestParseError struct {
	key string
	err error
}

func (e *manifestParseError) Error() string { return e.key + ": " + e.err.Error() }
func (e *manifestParseError) Unwrap() error { return e.err }
