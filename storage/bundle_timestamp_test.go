package storage

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// stampManifest asks the test TSA for a timestamp of the capture's stored
// manifest and stores the answer beside it, as Record does with a
// Timestamper.
func stampManifest(t *testing.T, fx *bundleFixture, tsa *TSA, id string) []byte {
	t.Helper()
	key := fx.items[captureIndex(fx, id)].Capture.ManifestKey
	sum := sha256.Sum256(readAll(t, fx.store, key))
	tsr, err := tsa.Timestamp(t.Context(), sum)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.store.Put(t.Context(), timestampKeyFor(key), bytes.NewReader(tsr), int64(len(tsr)), ContentTypeTimestamp); err != nil {
		t.Fatal(err)
	}
	return tsr
}

func captureIndex(fx *bundleFixture, id string) int {
	for i, it := range fx.items {
		if it.Capture.Capture.ID == id {
			return i
		}
	}
	panic("no capture " + id)
}

// TestBundleTimestamps checks that a capture's RFC 3161 timestamp travels
// in the bundle beside its manifest and is checked there: a token for
// another manifest is named, and a bundle is not written with a bad one.
func TestBundleTimestamps(t *testing.T) {
	t.Parallel()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fx := newBundleFixture(t, d)
	tsa := newTestTimestamper(t, newTestTSA(t, tsaOK).URL)
	stampManifest(t, fx, tsa, "c1")
	other := stampManifest(t, fx, tsa, "c2")

	data, _ := fx.write(t, nil)
	u := unzipBundle(t, data)
	if _, ok := u.files[BundleTimestampPath("c1")]; !ok {
		t.Fatalf("bundle holds %v, no %s", u.order, BundleTimestampPath("c1"))
	}
	if _, ok := u.files[BundleTimestampPath("c3")]; ok {
		t.Errorf("bundle holds a timestamp for c3, which has none")
	}
	res := verifyBytes(t, data, BundleTrust{PublicKey: fx.signer.PublicKey()})
	if !res.OK {
		t.Fatalf("bundle with timestamps does not verify: %s", problemLines(res))
	}
	stamped := map[string]bool{}
	for _, c := range res.Captures {
		stamped[c.ID] = c.Timestamp != nil && !c.Timestamp.Time.IsZero()
	}
	if !stamped["c1"] || !stamped["c2"] || stamped["c3"] {
		t.Errorf("captures with a verified timestamp: %v, want c1 and c2", stamped)
	}

	// c2's token in c1's place, the bundle's digests and signature made to
	// agree: the timestamp check still names it.
	swapped := resign(t, rezip(t, data, func(name string, b []byte) []byte {
		if name == BundleTimestampPath("c1") {
			return other
		}
		return b
	}, nil), fx.signer)
	res = verifyBytes(t, swapped, BundleTrust{PublicKey: fx.signer.PublicKey()})
	if res.OK || !strings.Contains(problemLines(res), BundleTimestampPath("c1")+": RFC 3161 timestamp") {
		t.Errorf("a timestamp of another manifest: ok=%v, problems:\n%s", res.OK, problemLines(res))
	}

	// A token stored for the wrong manifest is refused when bundling.
	c3 := fx.items[captureIndex(fx, "c3")].Capture.ManifestKey
	if _, err := d.Put(t.Context(), timestampKeyFor(c3), bytes.NewReader(other), int64(len(other)), ContentTypeTimestamp); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := WriteBundle(t.Context(), &buf, BundleParams{Items: fx.items, Store: d, Signer: fx.signer, Created: bundleCreated}); !errors.Is(err, ErrEvidenceChanged) {
		t.Errorf("WriteBundle with a wrong timestamp = %v, want ErrEvidenceChanged", err)
	}
}
