package storage

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// rfc8032Key is the key of RFC 8032 section 7.1, test 1.
func rfc8032Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func TestFingerprintAndFormat(t *testing.T) {
	t.Parallel()
	pub := rfc8032Key(t).Public().(ed25519.PublicKey)
	if got := hex.EncodeToString(pub); got != "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" {
		t.Fatalf("RFC 8032 public key = %s", got)
	}
	if got, want := Fingerprint(pub), "21fe31dfa154a261"; got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
	if got, want := FormatPublicKey(pub), "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="; got != want {
		t.Errorf("FormatPublicKey = %s, want %s", got, want)
	}
	back, err := ParsePublicKey([]byte(FormatPublicKey(pub) + "\n"))
	if err != nil || !back.Equal(pub) {
		t.Errorf("ParsePublicKey(FormatPublicKey) = %x, %v", back, err)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys", "deep")
	path := filepath.Join(dir, "signing.pem")
	s, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("key directory: %v, %v; want mode 0700", di.Mode().Perm(), err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(data); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("key file is not a PEM PRIVATE KEY:\n%s", data)
	}
	pub, err := LoadPublicKey(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(s.PublicKey()) {
		t.Error("the .pub file holds another key")
	}
	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !again.PublicKey().Equal(s.PublicKey()) {
		t.Error("second LoadOrCreateKey made a new key")
	}

	// A lost .pub file is written again.
	if err := os.Remove(path + ".pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err != nil {
		t.Fatal(err)
	}
	if pub, err := LoadPublicKey(path + ".pub"); err != nil || !pub.Equal(s.PublicKey()) {
		t.Errorf("rewritten .pub: %v", err)
	}

	// A .pub file with another key is refused rather than left to mislead.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if err := os.WriteFile(path+".pub", []byte(FormatPublicKey(other)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Error("LoadOrCreateKey accepted a .pub file with another key")
	}
}

func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k", "signing.pem")
	const n = 8
	keys := make([]ed25519.PublicKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := LoadOrCreateKey(path)
			errs[i] = err
			if err == nil {
				keys[i] = s.PublicKey()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !keys[i].Equal(keys[0]) {
			t.Errorf("call %d got key %s, call 0 %s", i, Fingerprint(keys[i]), Fingerprint(keys[0]))
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("key directory holds %d files, want the key and its .pub", len(entries))
	}
}

func TestLoadOrCreateKeyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("not a key")},
		{"public key block", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2}})},
		{"bad der", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}})},
		{"ecdsa key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".pem")
		if err := os.WriteFile(path, tt.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKey(path); err == nil {
			t.Errorf("%s: LoadOrCreateKey succeeded", tt.name)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	pub := rfc8032Key(t).Public().(ed25519.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"pem", string(pemKey), true},
		{"text", "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", true},
		{"text with spaces", "  ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n", true},
		{"short text", "ed25519:AAAA", false},
		{"bad base64", "ed25519:***", false},
		{"garbage", "hello", false},
		{"private key pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), false},
		{"ecdsa pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})), false},
		{"trailing data", string(pemKey) + "junk", false},
	}
	for _, tt := range tests {
		got, err := ParsePublicKey([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tt.ok && !got.Equal(pub) {
			t.Errorf("%s: got %x", tt.name, got)
		}
	}
	if _, err := LoadPublicKey(filepath.Join(t.TempDir(), "missing.pub")); err == nil {
		t.Error("LoadPublicKey of a missing file succeeded")
	}
}

func TestNewSigner(t *testing.T) {
	t.Parallel()
	if _, err := NewSigner(ed25519.PrivateKey{1, 2, 3}); err == nil {
		t.Error("NewSigner accepted a 3-byte key")
	}
}
