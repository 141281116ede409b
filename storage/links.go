package storage

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxLinkLifetime bounds how long a share link stays valid: seven days,
// the most an S3 presigned URL (signature version 4) allows; signed links
// keep the same bound.
const MaxLinkLifetime = 7 * 24 * time.Hour

// Errors LinkSigner.Open returns wrapped; test with errors.Is.
var (
	// ErrLinkInvalid reports a token that was altered, cut short or made
	// with another key.
	ErrLinkInvalid = errors.New("share link is not valid")
	// ErrLinkExpired reports a genuine token past its expiry.
	ErrLinkExpired = errors.New("share link has expired")
)

// LinkClaims is what a signed share link grants: reading the object at Key
// until Expires (to the second). ID names the link in the custody log.
type LinkClaims struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`
	Expires time.Time `json:"expires"`
}

// LinkSigner makes and checks signed share links, for evidence stores that
// cannot presign URLs themselves (Dir). A token is
// base64url(payload) "." base64url(HMAC-SHA256(key, "wildwatch-link-v1." +
// base64url(payload))), the payload being the JSON {"id", "key", "exp"
// (unix seconds)}. Links cannot be revoked one by one; changing the key
// revokes them all.
type LinkSigner struct {
	key []byte
}

// minLinkKeyBytes is the least key length NewLinkSigner accepts.
const minLinkKeyBytes = 32

// linkInfo is the HKDF info string of the link key derived from the
// evidence signing key; a new derivation gets a new string.
const linkInfo = "wildwatch share links v1"

// linkMACPrefix separates link MACs from any other use of the key.
const linkMACPrefix = "wildwatch-link-v1."

// NewLinkSigner returns a signer keyed with secret (at least 32 bytes):
// for deployments that keep the link secret apart from the evidence key.
func NewLinkSigner(secret []byte) (*LinkSigner, error) {
	if len(secret) < minLinkKeyBytes {
		return nil, fmt.Errorf("share link secret has %d bytes, want at least %d", len(secret), minLinkKeyBytes)
	}
	return &LinkSigner{key: bytes.Clone(secret)}, nil
}

// LinkSigner returns the share link signer keyed from the evidence signing
// key: HKDF-SHA256 with the Ed25519 private key's 32-byte seed as secret, no
// salt, info "wildwatch share links v1", 32 bytes. Every process holding
// the deployment's key makes and accepts the same links, no other secret
// needs to be kept, and the derived key reveals nothing of the signing key.
// Replacing the signing key revokes every link.
func (s *Signer) LinkSigner() *LinkSigner {
	k, err := hkdf.Key(sha256.New, s.key.Seed(), nil, linkInfo, 32)
	if err != nil {
		panic("deriving share link key: " + err.Error()) // only for lengths out of range
	}
	return &LinkSigner{key: k}
}

// linkEncoding decodes tokens strictly: a token has one spelling, and
// changing any of its characters makes it invalid.
var linkEncoding = base64.RawURLEncoding.Strict()

// linkPayload is the signed part of a token.
type linkPayload struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	Exp int64  `json:"exp"`
}

// NewLinkID returns a new random share link ID (16 characters).
func NewLinkID() string { return newCatalogID() }

// Sign returns the token of c. Expires is kept to the second.
func (l *LinkSigner) Sign(c LinkClaims) (string, error) {
	if c.ID == "" || strings.ContainsAny(c.ID, "/.") {
		return "", fmt.Errorf("share link id %q: %w", c.ID, ErrInvalid)
	}
	if err := validateKey(c.Key); err != nil {
		return "", fmt.Errorf("share link: %w", err)
	}
	if c.Expires.IsZero() {
		return "", fmt.Errorf("share link %s: no expiry: %w", c.ID, ErrInvalid)
	}
	p, err := json.Marshal(linkPayload{ID: c.ID, Key: c.Key, Exp: c.Expires.Unix()})
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(p)
	return body + "." + base64.RawURLEncoding.EncodeToString(l.mac(body)), nil
}

func (l *LinkSigner) mac(body string) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(linkMACPrefix + body))
	return m.Sum(nil)
}

// Open checks token and returns what it grants. A token that does not
// carry this signer's MAC is ErrLinkInvalid, whatever it claims; a genuine
// one is ErrLinkExpired from its expiry on (the claims are returned with
// it, to say since when).
func (l *LinkSigner) Open(token string, now time.Time) (LinkClaims, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return LinkClaims{}, fmt.Errorf("%w: malformed token", ErrLinkInvalid)
	}
	mac, err := linkEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, l.mac(body)) {
		return LinkClaims{}, fmt.Errorf("%w: the signature does not match (the link was altered or not issued by this deployment)", ErrLinkInvalid)
	}
	raw, err := linkEncoding.DecodeString(body)
	if err != nil {
		return LinkClaims{}, fmt.Errorf("%w: %v", ErrLinkInvalid, err)
	}
	var p linkPayload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.ID == "" || validateKey(p.Key) != nil || p.Exp == 0 {
		return LinkClaims{}, fmt.Errorf("%w: malformed claims", ErrLinkInvalid)
	}
	c := LinkClaims{ID: p.ID, Key: p.Key, Expires: time.Unix(p.Exp, 0).UTC()}
	if !now.Before(c.Expires) {
		return c, fmt.Errorf("%w: it was valid until %s", ErrLinkExpired, c.Expires.Format(time.RFC3339))
	}
	return c, nil
}
