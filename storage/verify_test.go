package storage

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordedDir records captures c1 and c2 of sweep-1 and c3 of sweep-2 in a
// new directory store and returns its root, the signer and the manifests.
func recordedDir(t *testing.T) (string, *Signer, map[string]*Manifest) {
	t.Helper()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ev := &Evidence{Store: d, Signer: testSigner(t)}
	ms := map[string]*Manifest{}
	for _, id := range []string{"c1", "c2", "c3"} {
		c := testCapture(id, []byte("<html>"+id+" tiger bone wine</html>"))
		if id == "c3" {
			c.SweepID = "sweep-2"
		}
		m, err := ev.Record(context.Background(), testWARCParams(c))
		if err != nil {
			t.Fatal(err)
		}
		ms[id] = m
	}
	return root, ev.Signer, ms
}

func manifestPath(root string, m *Manifest) string {
	return filepath.Join(root, filepath.FromSlash(ManifestKey(m.SweepID, m.CaptureID)))
}

// makeWritable undoes the store's read-only mode so a test can tamper.
func makeWritable(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyPath(t *testing.T) {
	t.Parallel()
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub := otherKey.Public().(ed25519.PublicKey)

	tests := []struct {
		name string
		// tamper changes the store; it returns the path to verify.
		tamper func(t *testing.T, root string, ms map[string]*Manifest) string
		// wrongKey verifies with another key.
		wrongKey bool
		// bad is the capture expected to fail and want a phrase of its
		// problem; the other captures must pass.
		bad  string
		want string
	}{
		{
			name:   "manifest file",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string { return manifestPath(root, ms["c1"]) },
		},
		{
			name:   "whole store",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string { return root },
		},
		{
			name: "one sweep",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				return filepath.Join(root, "captures", "sweep-2")
			},
		},
		{
			name: "WARC byte flipped",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				p := filepath.Join(root, filepath.FromSlash(ms["c2"].Objects[0].Key))
				makeWritable(t, p)
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				data[len(data)/2] ^= 0x01
				if err := os.WriteFile(p, data, 0o444); err != nil {
					t.Fatal(err)
				}
				return root
			},
			bad:  "c2",
			want: "SHA-256",
		},
		{
			name: "WARC truncated",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				p := filepath.Join(root, filepath.FromSlash(ms["c2"].Objects[0].Key))
				makeWritable(t, p)
				if err := os.Truncate(p, 10); err != nil {
					t.Fatal(err)
				}
				return root
			},
			bad:  "c2",
			want: "10 bytes, manifest says",
		},
		{
			name: "WARC missing",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				if err := os.Remove(filepath.Join(root, filepath.FromSlash(ms["c1"].Objects[0].Key))); err != nil {
					t.Fatal(err)
				}
				return root
			},
			bad:  "c1",
			want: "missing",
		},
		{
			name: "manifest field changed",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				p := manifestPath(root, ms["c1"])
				rewrite(t, p, `"status":200`, `"status":404`)
				return p
			},
			bad:  "c1",
			want: "signature",
		},
		{
			name: "manifest object digest changed",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				p := manifestPath(root, ms["c3"])
				rewrite(t, p, `"sha256":"`, `"sha256":"0`)
				return root
			},
			bad:  "c3",
			want: "signature",
		},
		{
			name: "manifest not JSON",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				p := manifestPath(root, ms["c1"])
				makeWritable(t, p)
				if err := os.WriteFile(p, []byte("{"), 0o444); err != nil {
					t.Fatal(err)
				}
				return p
			},
			bad:  "",
			want: "manifest:",
		},
		{
			name: "manifest moved to another capture",
			tamper: func(t *testing.T, root string, ms map[string]*Manifest) string {
				data, err := os.ReadFile(manifestPath(root, ms["c1"]))
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(root, "captures", "sweep-1", "c9.manifest.json")
				if err := os.WriteFile(p, data, 0o444); err != nil {
					t.Fatal(err)
				}
				return p
			},
			bad:  "c1",
			want: "stored under",
		},
		{
			name:     "wrong key",
			tamper:   func(t *testing.T, root string, ms map[string]*Manifest) string { return manifestPath(root, ms["c2"]) },
			wrongKey: true,
			bad:      "c2",
			want:     "signature",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root, signer, ms := recordedDir(t)
			path := tt.tamper(t, root, ms)
			pub := signer.PublicKey()
			if tt.wrongKey {
				pub = otherPub
			}
			results, err := VerifyPath(context.Background(), path, pub)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) == 0 {
				t.Fatal("no results")
			}
			sawBad := false
			for _, r := range results {
				isBad := tt.want != "" && (r.CaptureID == tt.bad || (tt.bad == "" && r.CaptureID == ""))
				if !isBad {
					if !r.OK || len(r.Problems) > 0 {
						t.Errorf("%s: %+v, want OK", r.ManifestKey, r)
					}
					continue
				}
				sawBad = true
				if r.OK || len(r.Problems) == 0 {
					t.Errorf("%s verified despite the tampering: %+v", r.ManifestKey, r)
					continue
				}
				problems := strings.Join(r.Problems, "\n")
				if !strings.Contains(problems, tt.want) {
					t.Errorf("%s problems %q do not mention %q", r.ManifestKey, problems, tt.want)
				}
				if tt.want == "SHA-256" || tt.want == "missing" || strings.Contains(tt.want, "bytes") {
					if key := ms[tt.bad].Objects[0].Key; !strings.Contains(problems, key) {
						t.Errorf("problems %q do not name the object %s", problems, key)
					}
				}
			}
			if tt.want != "" && !sawBad {
				t.Errorf("no result for the tampered capture in %+v", results)
			}
		})
	}
}

// rewrite replaces old with new once in a read-only store file.
func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	makeWritable(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyPathCounts(t *testing.T) {
	t.Parallel()
	root, signer, _ := recordedDir(t)
	results, err := VerifyPath(context.Background(), root, signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range results {
		keys = append(keys, r.ManifestKey)
	}
	want := []string{"captures/sweep-1/c1.manifest.json", "captures/sweep-1/c2.manifest.json", "captures/sweep-2/c3.manifest.json"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("verified %q, want %q", keys, want)
	}
}

func TestVerifyPathErrors(t *testing.T) {
	t.Parallel()
	root, signer, ms := recordedDir(t)
	elsewhere := filepath.Join(t.TempDir(), "c1.manifest.json")
	data, err := os.ReadFile(manifestPath(root, ms["c1"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(elsewhere, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing":             filepath.Join(root, "nothing-here"),
		"no manifests":        t.TempDir(),
		"not under captures/": elsewhere,
	} {
		if res, err := VerifyPath(context.Background(), path, signer.PublicKey()); err == nil {
			t.Errorf("%s: VerifyPath = %+v, want an error", name, res)
		}
	}
}

// TestVerifyRendered tampers with one object of a rendered capture: verify
// fails, naming that object and no other.
func TestVerifyRendered(t *testing.T) {
	t.Parallel()
	flip := func(t *testing.T, path string) {
		makeWritable(t, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x01
		if err := os.WriteFile(path, data, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		role string // of the object tampered with; "" for none
		// tamper changes the object's file.
		tamper func(t *testing.T, path string)
		want   string
	}{
		{name: "untouched"},
		{"screenshot byte flipped", RoleScreenshot, flip, "SHA-256"},
		{"DOM byte flipped", RoleDOM, flip, "SHA-256"},
		{"screenshot missing", RoleScreenshot, func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "missing"},
		{"DOM truncated", RoleDOM, func(t *testing.T, path string) {
			makeWritable(t, path)
			if err := os.Truncate(path, 5); err != nil {
				t.Fatal(err)
			}
		}, "5 bytes, manifest says"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			d, err := NewDir(root)
			if err != nil {
				t.Fatal(err)
			}
			ev := &Evidence{Store: d, Signer: testSigner(t)}
			m, err := ev.Record(t.Context(), testWARCParams(testRendered(testCapture("c1", []byte("<html>shell</html>")))))
			if err != nil {
				t.Fatal(err)
			}
			var key string
			for _, o := range m.Objects {
				if o.Role == tt.role {
					key = o.Key
				}
			}
			if tt.role != "" {
				if key == "" {
					t.Fatalf("manifest has no %s object: %+v", tt.role, m.Objects)
				}
				tt.tamper(t, filepath.Join(root, filepath.FromSlash(key)))
			}
			results, err := VerifyPath(t.Context(), root, ev.Signer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 {
				t.Fatalf("results %+v, want one", results)
			}
			r := results[0]
			if tt.role == "" {
				if !r.OK || len(r.Problems) != 0 {
					t.Errorf("untouched rendered capture: %+v", r)
				}
				return
			}
			if r.OK || len(r.Problems) == 0 {
				t.Fatalf("%s verified despite the tampering: %+v", tt.role, r)
			}
			for _, p := range r.Problems {
				if !strings.HasPrefix(p, "object "+key+": ") {
					t.Errorf("problem %q is not about %s", p, key)
				}
			}
			if all := strings.Join(r.Problems, "\n"); !strings.Contains(all, tt.want) {
				t.Errorf("problems %q do not say %q", all, tt.want)
			}
		})
	}
}

// TestVerifyVersion1 verifies evidence recorded by the version 1 manifest
// format (testdata/evidence-v1, written once and never regenerated): it
// must verify as long as wildwatch reads version 1.
func TestVerifyVersion1(t *testing.T) {
	t.Parallel()
	pub := testSigner(t).PublicKey()
	results, err := VerifyPath(t.Context(), filepath.Join("testdata", "evidence-v1"), pub)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || !results[0].OK || results[0].CaptureID != "c1" {
		t.Fatalf("VerifyPath(version 1 store) = %+v", results)
	}

	data, err := os.ReadFile(filepath.Join("testdata", "evidence-v1", "captures", "sweep-1", "c1.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data)
	if err != nil || m.ManifestVersion != 1 {
		t.Fatalf("ParseManifest(version 1) = %+v, %v", m, err)
	}
	// Re-encoding must give back the stored bytes, or the signature would
	// be checked over another message.
	again, err := m.Marshal()
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("version 1 manifest re-encodes as\n%s\nnot\n%s", again, data)
	}
}
