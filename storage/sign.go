package storage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Signer signs manifests with the deployment's Ed25519 private key.
type Signer struct {
	key ed25519.PrivateKey
}

// NewSigner returns a signer for key.
func NewSigner(key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	return &Signer{key: key}, nil
}

// PEM block types of key files.
const (
	pemPrivateKey = "PRIVATE KEY" // PKCS #8
	pemPublicKey  = "PUBLIC KEY"  // PKIX (SubjectPublicKeyInfo)
)

// publicKeyPrefix starts the text form of a public key.
const publicKeyPrefix = "ed25519:"

// LoadOrCreateKey loads the signer's private key from path, a PEM PKCS #8
// file. When there is none it creates one (mode 0600, its directory 0700 if
// missing) and writes the public key beside it as path + ".pub" (PEM PKIX,
// mode 0644). Concurrent first calls, even from several processes, agree on
// one key: the new key is written to a temporary file and linked into place,
// which fails if another process got there first, whose key is then loaded.
func LoadOrCreateKey(path string) (*Signer, error) {
	s, err := loadPrivateKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		s, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	if err := writePublicKeyFile(path+".pub", s.PublicKey()); err != nil {
		return nil, err
	}
	return s, nil
}

func loadPrivateKey(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemPrivateKey {
		return nil, fmt.Errorf("signing key %s: not a PEM %q block", path, pemPrivateKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: a %T, not an Ed25519 key", path, k)
	}
	return NewSigner(key)
}

func createKey(path string) (*Signer, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*") // 0600
	if err != nil {
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = pem.Encode(tmp, &pem.Block{Type: pemPrivateKey, Bytes: der})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadPrivateKey(path)
		}
		return nil, fmt.Errorf("creating signing key: %w", err)
	}
	return NewSigner(key)
}

// writePublicKeyFile writes pub to path unless the file holds it already;
// a file holding another key is an error, since verifiers would trust it.
func writePublicKeyFile(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("public key file: %w", err)
	}
	if data, err := os.ReadFile(path); err == nil {
		have, perr := ParsePublicKey(data)
		if perr != nil || !have.Equal(pub) {
			return fmt.Errorf("public key file %s does not hold the signing key's public key (%s); remove it to have it written again", path, FormatPublicKey(pub))
		}
		return nil
	}
	// Write a temporary file and rename it into place, so that a process
	// reading the key at the same time never sees half of it.
	data := pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der})
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pub-*")
	if err != nil {
		return fmt.Errorf("public key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("public key file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("public key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("public key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("public key file: %w", err)
	}
	return nil
}

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() ed25519.PublicKey {
	return s.key.Public().(ed25519.PublicKey)
}

// Sign signs m (see Manifest for what the signature covers), replacing any
// earlier signature.
func (s *Signer) Sign(m *Manifest) error {
	msg, err := m.signedMessage()
	if err != nil {
		return fmt.Errorf("signing manifest %s: %w", m.CaptureID, err)
	}
	m.Signature = &Signature{
		Algorithm: SignatureAlgorithm,
		KeyID:     Fingerprint(s.PublicKey()),
		Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, msg)),
	}
	return nil
}

// Fingerprint identifies a public key: the first 16 hex digits of the
// SHA-256 of its 32 raw bytes.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// FormatPublicKey returns the text form of pub, "ed25519:" and the standard
// base64 of its 32 bytes, as `wildwatch keys` prints it.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return publicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// LoadPublicKey reads a public key file: PEM (PKIX "PUBLIC KEY") or the
// text form of FormatPublicKey.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return pub, nil
}

// ParsePublicKey parses a public key in PEM (PKIX "PUBLIC KEY") or in the
// text form of FormatPublicKey.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	text := strings.TrimSpace(string(data))
	if b64, ok := strings.CutPrefix(text, publicKeyPrefix); ok {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		if len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("parsing public key: %d bytes, want %d", len(raw), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(raw), nil
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("parsing public key: neither PEM nor %q text", publicKeyPrefix+"<base64>")
	}
	if block.Type != pemPublicKey {
		return nil, fmt.Errorf("parsing public key: PEM block %q, want %q", block.Type, pemPublicKey)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("parsing public key: data after the PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parsing public key: a %T, not an Ed25519 key", k)
	}
	return pub, nil
}
