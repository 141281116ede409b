package storage

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// rezip rewrites a bundle, passing each file through edit (a nil result
// drops the file) and adding extra files at the end. Entries keep their
// compression method; their checksums are those of the new bytes.
func rezip(t *testing.T, data []byte, edit func(name string, b []byte) []byte, extra map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	write := func(name string, method uint16, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			b = edit(f.Name, bytes.Clone(b))
		}
		if b != nil {
			write(f.Name, f.Method, b)
		}
	}
	for name, b := range extra {
		write(name, zip.Deflate, b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// resign rewrites datapackage.json for the bundle's files as they are and
// signs it with s, as someone holding another key could.
func resign(t *testing.T, data []byte, s *Signer) []byte {
	t.Helper()
	u := unzipBundle(t, data)
	var dp datapackage
	if err := json.Unmarshal(u.files[BundleDatapackage], &dp); err != nil {
		t.Fatal(err)
	}
	for i, r := range dp.Resources {
		sum := sha256.Sum256(u.files[r.Path])
		dp.Resources[i].Hash, dp.Resources[i].Bytes = "sha256:"+hex.EncodeToString(sum[:]), int64(len(u.files[r.Path]))
	}
	dpJSON, err := json.MarshalIndent(dp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	digest, err := signDatapackage(s, dpJSON, dp.Created, "x")
	if err != nil {
		t.Fatal(err)
	}
	return rezip(t, data, func(name string, b []byte) []byte {
		switch name {
		case BundleDatapackage:
			return dpJSON
		case BundleDigest:
			return digest
		}
		return b
	}, nil)
}

// otherSigner is a key that did not sign the fixture's evidence.
func otherSigner(t *testing.T) *Signer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flipStored flips a byte in the middle of a file kept uncompressed in
// the zip, leaving the zip's checksum as it was.
func flipStored(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(data)
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		off, err := f.DataOffset()
		if err != nil || f.Method != zip.Store {
			t.Fatalf("%s: offset %v, method %d", name, err, f.Method)
		}
		out[off+int64(f.UncompressedSize64/2)] ^= 0x01
		return out
	}
	t.Fatalf("no %s in the bundle", name)
	return nil
}

// flipStoredObject inverts a byte in the middle of an object of a
// directory store.
func flipStoredObject(t *testing.T, d *Dir, key string) {
	t.Helper()
	path := d.path(key)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	makeWritable(t, path)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceIn returns an edit that replaces old by new in the named file,
// failing the test when old is not there.
func replaceIn(t *testing.T, file, old, new string) func(string, []byte) []byte {
	return func(name string, b []byte) []byte {
		if name != file {
			return b
		}
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%s does not contain %q", file, old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

// TestVerifyBundleTampering changes one thing in a good bundle at a time
// and checks that verification fails and names the file.
func TestVerifyBundleTampering(t *testing.T) {
	t.Parallel()
	fx := newBundleFixture(t, evidenceStores[0].new(t))
	good, _ := fx.write(t, nil)
	pub := fx.signer.PublicKey()
	attacker := otherSigner(t)

	type want struct{ file, says string }
	tests := []struct {
		name   string
		bundle func(t *testing.T) []byte
		trust  BundleTrust
		want   []want
	}{
		{
			name: "WARC byte",
			bundle: func(t *testing.T) []byte {
				return rezip(t, good, func(name string, b []byte) []byte {
					if name == "archive/c1.warc.gz" {
						b[len(b)/2] ^= 0x01
					}
					return b
				}, nil)
			},
			want: []want{{"archive/c1.warc.gz", "datapackage.json says"}, {"archive/c1.warc.gz", "signed manifest manifests/c1.manifest.json says"}},
		},
		{
			name:   "WARC byte under the zip checksum",
			bundle: func(t *testing.T) []byte { return flipStored(t, good, "archive/c2.warc.gz") },
			want:   []want{{"archive/c2.warc.gz", "cannot be read"}},
		},
		{
			name: "manifest field",
			bundle: func(t *testing.T) []byte {
				return rezip(t, good, replaceIn(t, "manifests/c1.manifest.json", `"status":200`, `"status":201`), nil)
			},
			want: []want{{"manifests/c1.manifest.json", "changed since it was signed"}, {"manifests/c1.manifest.json", "datapackage.json says"}},
		},
		{
			name: "report",
			bundle: func(t *testing.T) []byte {
				return rezip(t, good, replaceIn(t, BundleReportHTML, "seller-c1", "seller-c9"), nil)
			},
			want: []want{{BundleReportHTML, "datapackage.json says"}},
		},
		{
			name: "datapackage.json",
			bundle: func(t *testing.T) []byte {
				return rezip(t, good, replaceIn(t, BundleDatapackage, "Case 2026-17", "Case 2026-18"), nil)
			},
			want: []want{{BundleDatapackage, "datapackage-digest.json says"}},
		},
		{
			name: "datapackage.json with its digest updated",
			bundle: func(t *testing.T) []byte {
				changed := rezip(t, good, replaceIn(t, BundleDatapackage, "Case 2026-17", "Case 2026-18"), nil)
				dp := unzipBundle(t, changed).files[BundleDatapackage]
				sum := sha256.Sum256(dp)
				var d datapackageDigest
				if err := json.Unmarshal(unzipBundle(t, good).files[BundleDigest], &d); err != nil {
					t.Fatal(err)
				}
				d.Hash = "sha256:" + hex.EncodeToString(sum[:])
				d.SignedData.Hash = d.Hash
				digest, _ := json.Marshal(d)
				return rezip(t, changed, func(name string, b []byte) []byte {
					if name == BundleDigest {
						return digest
					}
					return b
				}, nil)
			},
			want: []want{{BundleDigest, "does not verify"}},
		},
		{
			name:   "file added",
			bundle: func(t *testing.T) []byte { return rezip(t, good, nil, map[string][]byte{"notes.txt": []byte("x")}) },
			want:   []want{{"notes.txt", "not listed in datapackage.json"}},
		},
		{
			name: "screenshot removed",
			bundle: func(t *testing.T) []byte {
				return rezip(t, good, func(name string, b []byte) []byte {
					if name == "screenshots/c2.png" {
						return nil
					}
					return b
				}, nil)
			},
			want: []want{{"screenshots/c2.png", "listed in datapackage.json but missing"}, {"screenshots/c2.png", "missing: manifests/c2.manifest.json names it"}},
		},
		{
			name: "re-signed with another key",
			bundle: func(t *testing.T) []byte {
				return resign(t, rezip(t, good, replaceIn(t, BundleReportHTML, "seller-c1", "seller-c9"), nil), attacker)
			},
			trust: BundleTrust{PublicKey: pub},
			want:  []want{{BundleDigest, "not the key given"}, {BundleDigest, "does not verify"}},
		},
		{
			name:   "re-signed with another key, its fingerprint not the one given",
			bundle: func(t *testing.T) []byte { return resign(t, good, attacker) },
			trust:  BundleTrust{Fingerprint: Fingerprint(pub)},
			want:   []want{{BundleDigest, "not the fingerprint given"}, {"manifests/c1.manifest.json", "was signed by key"}},
		},
		{
			name: "WARC changed and re-signed, no key given",
			bundle: func(t *testing.T) []byte {
				return resign(t, rezip(t, good, func(name string, b []byte) []byte {
					if name == "archive/c3.warc.gz" {
						b[len(b)/3] ^= 0x01
					}
					return b
				}, nil), attacker)
			},
			want: []want{{"manifests/c3.manifest.json", "was signed by key"}, {"archive/c3.warc.gz", "signed manifest manifests/c3.manifest.json says"}},
		},
		{
			name: "manifest removed",
			bundle: func(t *testing.T) []byte {
				return resign(t, rezip(t, good, func(name string, b []byte) []byte {
					if name == "manifests/c3.manifest.json" {
						return nil
					}
					return b
				}, nil), fx.signer)
			},
			want: []want{{"archive/c3.warc.gz", "no manifest in manifests/ vouches for it"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trust := tt.trust
			if trust.PublicKey == nil && trust.Fingerprint == "" && !strings.Contains(tt.name, "no key given") {
				trust.PublicKey = pub
			}
			res := verifyBytes(t, tt.bundle(t), trust)
			if res.OK {
				t.Fatalf("a tampered bundle verifies: %+v", res)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range res.Problems {
					found = found || (p.File == w.file && strings.Contains(p.Problem, w.says))
				}
				if !found {
					t.Errorf("no problem %s: …%s…; got:\n%s", w.file, w.says, problemLines(res))
				}
			}
			for _, p := range res.Problems {
				if p.File == "" {
					t.Errorf("problem names no file: %s", p.Problem)
				}
			}
		})
	}
}

func problemLines(res *BundleResult) string {
	var b strings.Builder
	for _, p := range res.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// TestVerifyBundleTrust checks how the key is chosen: given, matched by
// fingerprint, or taken from the bundle unauthenticated.
func TestVerifyBundleTrust(t *testing.T) {
	t.Parallel()
	fx := newBundleFixture(t, evidenceStores[0].new(t))
	good, _ := fx.write(t, nil)
	fp := Fingerprint(fx.signer.PublicKey())
	tests := []struct {
		name              string
		trust             BundleTrust
		ok, authenticated bool
	}{
		{"key", BundleTrust{PublicKey: fx.signer.PublicKey()}, true, true},
		{"fingerprint", BundleTrust{Fingerprint: strings.ToUpper(fp)}, true, true},
		{"wrong fingerprint", BundleTrust{Fingerprint: "0123456789abcdef"}, false, false},
		{"another key", BundleTrust{PublicKey: otherSigner(t).PublicKey()}, false, true},
		{"nothing", BundleTrust{}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := verifyBytes(t, good, tt.trust)
			if res.OK != tt.ok || res.Authenticated != tt.authenticated {
				t.Errorf("OK %v, authenticated %v; want %v, %v\n%s", res.OK, res.Authenticated, tt.ok, tt.authenticated, problemLines(res))
			}
			if tt.trust.PublicKey == nil && res.KeyID != fp {
				t.Errorf("key id %s, want the bundle's %s", res.KeyID, fp)
			}
		})
	}
}

// TestWriteBundleRefusesChangedEvidence checks that a bundle is not made
// from evidence that no longer matches its signed manifest.
func TestWriteBundleRefusesChangedEvidence(t *testing.T) {
	t.Parallel()
	for _, role := range []string{RoleScreenshot, RoleWARC} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			store := evidenceStores[0].new(t)
			fx := newBundleFixture(t, store)
			key := fx.items[1].Capture.ScreenshotKey
			if role == RoleWARC {
				key = fx.items[1].Capture.WARCKey // a byte in the middle of a gzip stream
			}
			flipStoredObject(t, store.(*Dir), key)
			_, err := WriteBundle(t.Context(), io.Discard, BundleParams{Items: fx.items, Store: store, Signer: fx.signer})
			if !errors.Is(err, ErrEvidenceChanged) || !strings.Contains(err.Error(), "capture c2") || !strings.Contains(err.Error(), key) {
				t.Errorf("WriteBundle with a changed %s: %v", role, err)
			}
		})
	}
	t.Run("key", func(t *testing.T) {
		t.Parallel()
		store := evidenceStores[0].new(t)
		fx := newBundleFixture(t, store)
		_, err := WriteBundle(t.Context(), io.Discard, BundleParams{Items: fx.items, Store: store, Signer: otherSigner(t)})
		if err == nil || !errors.Is(err, ErrBadSignature) {
			t.Errorf("WriteBundle with another key than the manifests': %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		_, err := WriteBundle(t.Context(), io.Discard, BundleParams{Store: evidenceStores[0].new(t), Signer: testSigner(t)})
		if err == nil {
			t.Error("WriteBundle without captures succeeded")
		}
	})
}
