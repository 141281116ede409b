package storage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testManifest returns a fixed, unsigned manifest of a rendered capture.
func testManifest() *Manifest {
	m := NewManifest(testWARCParams(testRendered(testCapture("c1", nil))))
	m.Objects = append(m.Objects, ManifestObject{
		Key:         "captures/sweep-1/c1/00112233aabbccdd.warc.gz",
		Role:        RoleWARC,
		SHA256:      "00112233aabbccdd00112233aabbccdd00112233aabbccdd00112233aabbccdd",
		Size:        1234,
		ContentType: ContentTypeWARC,
	}, ManifestObject{
		Key:         "captures/sweep-1/c1/44556677aabbccdd.png",
		Role:        RoleScreenshot,
		SHA256:      "44556677aabbccdd00112233aabbccdd00112233aabbccdd00112233aabbccdd",
		Size:        81,
		ContentType: ContentTypeScreenshot,
	}, ManifestObject{
		Key:         "captures/sweep-1/c1/8899aabbaabbccdd.html",
		Role:        RoleDOM,
		SHA256:      "8899aabbaabbccdd00112233aabbccdd00112233aabbccdd00112233aabbccdd",
		Size:        140,
		ContentType: ContentTypeDOM,
	})
	return m
}

// TestManifestEncoding pins the JSON encoding the signature covers: a
// change here breaks the verification of stored evidence.
func TestManifestEncoding(t *testing.T) {
	t.Parallel()
	s, err := NewSigner(rfc8032Key(t))
	if err != nil {
		t.Fatal(err)
	}
	m := testManifest()
	if err := s.Sign(m); err != nil {
		t.Fatal(err)
	}
	got, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const unsigned = `{"manifest_version":2,"capture_id":"c1","sweep_id":"sweep-1","target":"example-market",` +
		`"url":"http://market.example/item?id=42","final_url":"https://market.example/item/42?ref=a%20b",` +
		`"remote_ip":"192.0.2.7","started_at":"2026-03-14T08:26:53.589793238Z","fetched_at":"2026-03-14T08:26:55.089793238Z",` +
		`"status":200,"user_agent":"wildwatch/1 (+https://wildwatch.example/bot; wildlife-trafficking monitoring)",` +
		`"mode":"browser","mode_reason":"static listing had no title",` +
		`"software":"wildwatch","software_version":"1.2.3","rule_set":"default@3",` +
		`"objects":[{"key":"captures/sweep-1/c1/00112233aabbccdd.warc.gz","role":"warc",` +
		`"sha256":"00112233aabbccdd00112233aabbccdd00112233aabbccdd00112233aabbccdd","size":1234,"content_type":"application/warc"},` +
		`{"key":"captures/sweep-1/c1/44556677aabbccdd.png","role":"screenshot",` +
		`"sha256":"44556677aabbccdd00112233aabbccdd00112233aabbccdd00112233aabbccdd","size":81,"content_type":"image/png"},` +
		`{"key":"captures/sweep-1/c1/8899aabbaabbccdd.html","role":"dom",` +
		`"sha256":"8899aabbaabbccdd00112233aabbccdd00112233aabbccdd00112233aabbccdd","size":140,"content_type":"text/html; charset=utf-8"}]`
	wantPrefix := unsigned + `,"signature":{"algorithm":"ed25519","key_id":"21fe31dfa154a261","value":"`
	if !strings.HasPrefix(string(got), wantPrefix) || !strings.HasSuffix(string(got), "\"}}\n") {
		t.Fatalf("stored manifest:\n%s\nwant it to start with:\n%s", got, wantPrefix)
	}

	// The documented contract: the message is the stored bytes up to the
	// signature member, closed with '}'.
	msg, err := m.signedMessage()
	if err != nil {
		t.Fatal(err)
	}
	if string(msg) != unsigned+"}" {
		t.Errorf("signed message:\n%s\nwant:\n%s}", msg, unsigned)
	}
	i := bytes.Index(got, []byte(`,"signature":`))
	if !bytes.Equal(append(got[:i:i], '}'), msg) {
		t.Error("stored bytes before the signature, closed, differ from the signed message")
	}
	if !ed25519.Verify(s.PublicKey(), []byte(unsigned+"}"), mustBase64(t, m.Signature.Value)) {
		t.Error("signature does not verify over the documented message")
	}
}

func TestManifestVerify(t *testing.T) {
	t.Parallel()
	s, err := NewSigner(rfc8032Key(t))
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner(otherKey)

	tests := []struct {
		name   string
		tamper func(m *Manifest)
		pub    ed25519.PublicKey
		ok     bool
	}{
		{"untouched", func(*Manifest) {}, s.PublicKey(), true},
		{"status", func(m *Manifest) { m.Status = 404 }, s.PublicKey(), false},
		{"time", func(m *Manifest) { m.FetchedAt = m.FetchedAt.Add(time.Nanosecond) }, s.PublicKey(), false},
		{"object digest", func(m *Manifest) { m.Objects[0].SHA256 = strings.Repeat("0", 64) }, s.PublicKey(), false},
		{"screenshot digest", func(m *Manifest) { m.Objects[1].SHA256 = strings.Repeat("0", 64) }, s.PublicKey(), false},
		{"DOM size", func(m *Manifest) { m.Objects[2].Size++ }, s.PublicKey(), false},
		{"screenshot dropped", func(m *Manifest) { m.Objects = m.Objects[:1] }, s.PublicKey(), false},
		{"mode", func(m *Manifest) { m.Mode = "static" }, s.PublicKey(), false},
		{"mode reason dropped", func(m *Manifest) { m.ModeReason = "" }, s.PublicKey(), false},
		{"object added", func(m *Manifest) { m.Objects = append(m.Objects, m.Objects[0]) }, s.PublicKey(), false},
		{"objects removed", func(m *Manifest) { m.Objects = nil }, s.PublicKey(), false},
		{"unsigned", func(m *Manifest) { m.Signature = nil }, s.PublicKey(), false},
		{"algorithm", func(m *Manifest) { m.Signature.Algorithm = "rsa" }, s.PublicKey(), false},
		{"key id", func(m *Manifest) { m.Signature.KeyID = "0000000000000000" }, s.PublicKey(), false},
		{"value not base64", func(m *Manifest) { m.Signature.Value = "***" }, s.PublicKey(), false},
		{"value flipped", func(m *Manifest) {
			v := []byte(m.Signature.Value)
			v[3] ^= 1
			m.Signature.Value = string(v)
		}, s.PublicKey(), false},
		{"wrong key", func(*Manifest) {}, other.PublicKey(), false},
		{"signed by the other key", func(m *Manifest) { other.Sign(m) }, s.PublicKey(), false},
	}
	for _, tt := range tests {
		m := testManifest()
		if err := s.Sign(m); err != nil {
			t.Fatal(err)
		}
		tt.tamper(m)
		// Through the stored form, as verify sees it.
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseManifest(data)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		err = parsed.Verify(tt.pub)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Verify = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: Verify = %v, not ErrBadSignature", tt.name, err)
		}
	}
	if err := testManifest().Verify(ed25519.PublicKey{1}); err == nil {
		t.Error("Verify with a 1-byte key succeeded")
	}
}

func TestParseManifest(t *testing.T) {
	t.Parallel()
	s, _ := NewSigner(rfc8032Key(t))
	m := testManifest()
	s.Sign(m)
	good, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sm := NewManifest(testWARCParams(testCapture("c1", nil)))
	sm.Objects = m.Objects[:1]
	s.Sign(sm)
	staticData, err := sm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	static := string(staticData)
	v1, err := os.ReadFile(filepath.Join("testdata", "evidence-v1", "captures", "sweep-1", "c1.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
		ok   bool
	}{
		{"stored", string(good), true},
		{"indented", strings.ReplaceAll(string(good), `","`, "\",\n  \""), true},
		{"unknown member", strings.Replace(string(good), `{"manifest_version"`, `{"extra":1,"manifest_version"`, 1), false},
		{"version 3", strings.Replace(string(good), `"manifest_version":2`, `"manifest_version":3`, 1), false},
		{"version 0", strings.Replace(string(good), `"manifest_version":2`, `"manifest_version":0`, 1), false},
		{"version 1", string(v1), true},
		{"version 1 with a mode", strings.Replace(string(v1), `"software":`, `"mode":"static","software":`, 1), false},
		{"version 1 with a mode reason", strings.Replace(string(v1), `"software":`, `"mode_reason":"x","software":`, 1), false},
		{"version 1 with an empty mode", strings.Replace(string(v1), `"software":`, `"mode":"","software":`, 1), false},
		{"empty mode added", strings.Replace(static, `"software":`, `"mode":"","software":`, 1), false},
		{"empty mode reason added", strings.Replace(static, `"software":`, `"mode_reason":"","software":`, 1), false},
		{"version 2 without a mode", static, true},
		{"trailing data", string(good) + "{}", false},
		{"not json", "hello", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		got, err := ParseManifest([]byte(tt.data))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok {
			if err := got.Verify(s.PublicKey()); err != nil {
				t.Errorf("%s: parsed manifest does not verify: %v", tt.name, err)
			}
		}
	}
}

func TestManifestKey(t *testing.T) {
	t.Parallel()
	if got, want := ManifestKey("s1", "c1"), "captures/s1/c1.manifest.json"; got != want {
		t.Errorf("ManifestKey = %q, want %q", got, want)
	}
	for _, ids := range [][2]string{{"", "c"}, {"s", ""}, {"s/x", "c"}, {"s", "c/x"}, {"s", ".c"}, {"..", "c"}} {
		if err := validateCaptureIDs(ids[0], ids[1]); err == nil {
			t.Errorf("validateCaptureIDs(%q, %q) accepted", ids[0], ids[1])
		}
	}
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
