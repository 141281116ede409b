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
// manifest per capture.
type Evidence struct {
	Store  wildwatch.EvidenceStore
	Signer *Signer
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// maxManifestBytes bounds how much of a stored manifest is read.
const maxManifestBytes = 1 << 20

// Record writes a capture's evidence and returns its signed manifest:
//
//  1. the WARC (WriteWARC) under
//     captures/<sweep>/<capture>/<first 16 hex of its SHA-256>.warc.gz;
//  2. the manifest, naming the WARC's SHA-256 and size, signed, under
//     ManifestKey(sweep, capture).
//
// The manifest is written last and once, so a capture is recorded exactly
// when its manifest exists. Record is idempotent: when the manifest exists
// already it writes nothing and returns the stored manifest. A retry after
// a crash between the two writes makes a new WARC (record IDs are random,
// hence a new content-addressed key) rather than colliding with the
// orphaned one, which no manifest names.
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

	if m, err := e.stored(ctx, mkey); err == nil {
		log.Debug("capture already recorded", "manifest", mkey)
		return m, nil
	} else if !errors.Is(err, wildwatch.ErrObjectNotFound) {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}

	var warc bytes.Buffer
	if err := WriteWARC(&warc, p); err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	sum := sha256.Sum256(warc.Bytes())
	digest := hex.EncodeToString(sum[:])
	wkey := captureObjectPrefix(c.SweepID, c.ID) + digest[:16] + ".warc.gz"
	info, err := e.Store.Put(ctx, wkey, bytes.NewReader(warc.Bytes()), int64(warc.Len()), ContentTypeWARC)
	if errors.Is(err, wildwatch.ErrObjectExists) {
		// Same key, same content: another attempt stored these very bytes.
		info, err = e.Store.Stat(ctx, wkey)
		if err == nil && info.Size != int64(warc.Len()) {
			err = fmt.Errorf("%s exists with %d bytes, not %d", wkey, info.Size, warc.Len())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}

	m := NewManifest(p)
	m.Objects = append(m.Objects, ManifestObject{
		Key:         wkey,
		Role:        RoleWARC,
		SHA256:      digest,
		Size:        int64(warc.Len()),
		ContentType: ContentTypeWARC,
	})
	if err := e.Signer.Sign(m); err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	_, err = e.Store.Put(ctx, mkey, bytes.NewReader(data), int64(len(data)), ContentTypeManifest)
	if errors.Is(err, wildwatch.ErrObjectExists) {
		// A concurrent Record of the same capture won; its manifest stands.
		log.Info("capture recorded concurrently; keeping the stored manifest", "orphan", wkey)
		return e.stored(ctx, mkey)
	}
	if err != nil {
		return nil, fmt.Errorf("recording capture %s: %w", c.ID, err)
	}
	log.Debug("capture recorded", "manifest", mkey, "warc", wkey, "bytes", warc.Len())
	return m, nil
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
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, &manifestParseError{key, fmt.Errorf("larger than %d bytes", maxManifestBytes)}
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, &manifestParseError{key, err}
	}
	return m, nil
}

// manifestParseError is a stored manifest that could be read but is not a
// manifest: for VerifyCapture a finding, not a failure to check.
type manifestParseError struct {
	key string
	err error
}

func (e *manifestParseError) Error() string { return e.key + ": " + e.err.Error() }
func (e *manifestParseError) Unwrap() error { return e.err }
