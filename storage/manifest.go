package storage

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ManifestVersion is the version of the manifest format this package
// writes. Version 2 added "mode" and "mode_reason"; ParseManifest and
// Verify also read version 1 manifests, which have neither.
const ManifestVersion = 2

// manifestVersion1 is the first manifest format: version 2 without "mode"
// and "mode_reason".
const manifestVersion1 = 1

// Roles of the objects a manifest names.
const (
	// RoleWARC is the capture's WARC file (every manifest has one).
	RoleWARC = "warc"
	// RoleScreenshot is the full-page PNG of a rendered capture.
	RoleScreenshot = "screenshot"
	// RoleDOM is the rendered document (HTML, UTF-8) of a rendered capture.
	RoleDOM = "dom"
)

// SignatureAlgorithm is the only algorithm manifests are signed with.
const SignatureAlgorithm = "ed25519"

// Manifest describes one capture's evidence and is signed with the
// deployment's key. It is stored as JSON under ManifestKey.
//
// # What the signature covers
//
// The signature is an Ed25519 signature (RFC 8032, pure, no prehash) over
// the message
//
//	json.Marshal(m) with m.Signature == nil
//
// that is, the bytes Go's encoding/json produces for this struct with the
// "signature" member omitted: members in the order of the fields below, no
// insignificant whitespace, strings escaped as encoding/json does (including
// \u003c, \u003e and \u0026 for <, > and &), times in RFC 3339 with
// nanoseconds as time.Time marshals them (UTC, "Z"), and "objects" always
// an array. The stored file is the same encoding with the "signature"
// member last, followed by a newline; so the message is also the stored
// file's bytes up to the `,"signature":` member, followed by `}`.
//
// Verify re-encodes the parsed manifest to rebuild the message; parsing
// rejects unknown members, so no field can be added to a stored manifest
// without failing verification. `wildwatch verify` relies on this contract;
// any change to the fields or their order is a new ManifestVersion.
//
// Version 1 is this struct without "mode" and "mode_reason". Both are
// omitted when empty, so a version 1 manifest re-encodes to the bytes it was
// signed over and still verifies. Parsing refuses a version 1 manifest that
// has either member and a version 2 manifest where either is present but
// empty, since neither can have been signed that way.
type Manifest struct {
	ManifestVersion int       `json:"manifest_version"`
	CaptureID       string    `json:"capture_id"`
	SweepID         string    `json:"sweep_id"`
	Target          string    `json:"target"`
	URL             string    `json:"url"`
	FinalURL        string    `json:"final_url"`
	RemoteIP        string    `json:"remote_ip"`
	StartedAt       time.Time `json:"started_at"`
	FetchedAt       time.Time `json:"fetched_at"`
	Status          int       `json:"status"`
	UserAgent       string    `json:"user_agent"`
	// Mode is how the page was fetched (wildwatch.RenderStatic or
	// wildwatch.RenderBrowser) and ModeReason why; both from version 2 and
	// omitted when the capture did not say.
	Mode            string `json:"mode,omitempty"`
	ModeReason      string `json:"mode_reason,omitempty"`
	Software        string `json:"software"`
	SoftwareVersion string `json:"software_version"`
	// RuleSet is the "name@version" of the rules that judged the capture.
	RuleSet string           `json:"rule_set"`
	Objects []ManifestObject `json:"objects"`
	// Signature is nil until Signer.Sign.
	Signature *Signature `json:"signature,omitempty"`
}

// ManifestObject is one evidence object a manifest vouches for.
type ManifestObject struct {
	Key         string `json:"key"`
	Role        string `json:"role"`
	SHA256      string `json:"sha256"` // lower-case hex
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
}

// Signature is a manifest's signature.
type Signature struct {
	Algorithm string `json:"algorithm"` // "ed25519"
	// KeyID is the signing key's Fingerprint.
	KeyID string `json:"key_id"`
	// Value is the standard base64 encoding of the 64-byte signature.
	Value string `json:"value"`
}

// ErrBadSignature reports a manifest whose signature does not verify: a
// changed manifest, another key, or no signature at all.
var ErrBadSignature = errors.New("manifest signature does not verify")

// NewManifest fills a manifest's capture fields from p; the caller adds
// Objects and signs it.
func NewManifest(p WARCParams) *Manifest {
	p = p.withDefaults()
	c := p.Capture
	return &Manifest{
		ManifestVersion: ManifestVersion,
		CaptureID:       c.ID,
		SweepID:         c.SweepID,
		Target:          c.Target,
		URL:             c.URL,
		FinalURL:        c.FinalURL,
		RemoteIP:        c.RemoteIP,
		StartedAt:       c.StartedAt.UTC(),
		FetchedAt:       c.FetchedAt.UTC(),
		Status:          c.Status,
		UserAgent:       c.UserAgent,
		Mode:            c.Mode,
		ModeReason:      c.ModeReason,
		Software:        p.Software,
		SoftwareVersion: p.SoftwareVersion,
		RuleSet:         p.RuleSet,
		Objects:         []ManifestObject{},
	}
}

// signedMessage returns the bytes the signature covers (see Manifest).
func (m *Manifest) signedMessage() ([]byte, error) {
	unsigned := *m
	unsigned.Signature = nil
	if unsigned.Objects == nil {
		unsigned.Objects = []ManifestObject{}
	}
	return json.Marshal(&unsigned)
}

// Marshal returns the manifest as stored: its JSON encoding and a newline.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest %s: %w", m.CaptureID, err)
	}
	return append(b, '\n'), nil
}

// ParseManifest reads a stored manifest of version 1 or ManifestVersion. It
// rejects unknown members, members its version does not have, trailing data
// and other versions; it does not check the signature (Verify does).
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parsing manifest: data after the manifest")
	}
	// "mode" and "mode_reason" are omitted when empty, so an empty one was
	// not there when the manifest was signed.
	var present struct {
		Mode       *string `json:"mode"`
		ModeReason *string `json:"mode_reason"`
	}
	if err := json.Unmarshal(data, &present); err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	switch m.ManifestVersion {
	case ManifestVersion:
		if (present.Mode != nil && m.Mode == "") || (present.ModeReason != nil && m.ModeReason == "") {
			return nil, errors.New("parsing manifest: empty mode or mode_reason")
		}
	case manifestVersion1:
		if present.Mode != nil || present.ModeReason != nil {
			return nil, errors.New("parsing manifest: version 1 has no mode or mode_reason")
		}
	default:
		return nil, fmt.Errorf("parsing manifest: version %d, want %d or %d", m.ManifestVersion, manifestVersion1, ManifestVersion)
	}
	return &m, nil
}

// Verify checks the manifest's signature with pub. It returns an error
// wrapping ErrBadSignature when the manifest is unsigned, was signed by
// another key or was changed after signing.
func (m *Manifest) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("verifying manifest %s: public key has %d bytes, want %d", m.CaptureID, len(pub), ed25519.PublicKeySize)
	}
	sig := m.Signature
	switch {
	case sig == nil:
		return fmt.Errorf("manifest %s is not signed: %w", m.CaptureID, ErrBadSignature)
	case !strings.EqualFold(sig.Algorithm, SignatureAlgorithm):
		return fmt.Errorf("manifest %s: algorithm %q, want %s: %w", m.CaptureID, sig.Algorithm, SignatureAlgorithm, ErrBadSignature)
	case sig.KeyID != Fingerprint(pub):
		return fmt.Errorf("manifest %s was signed by key %s, not %s: %w", m.CaptureID, sig.KeyID, Fingerprint(pub), ErrBadSignature)
	}
	value, err := base64.StdEncoding.DecodeString(sig.Value)
	if err != nil || len(value) != ed25519.SignatureSize {
		return fmt.Errorf("manifest %s: malformed signature value: %w", m.CaptureID, ErrBadSignature)
	}
	msg, err := m.signedMessage()
	if err != nil {
		return fmt.Errorf("verifying manifest %s: %w", m.CaptureID, err)
	}
	if !ed25519.Verify(pub, msg, value) {
		return fmt.Errorf("manifest %s has been changed since it was signed: %w", m.CaptureID, ErrBadSignature)
	}
	return nil
}

// ManifestKey is the key of a capture's manifest:
// "captures/<sweep>/<capture>.manifest.json".
func ManifestKey(sweepID, captureID string) string {
	return "captures/" + sweepID + "/" + captureID + manifestSuffix
}

const manifestSuffix = ".manifest.json"

// captureObjectPrefix is the key prefix of a capture's objects.
func captureObjectPrefix(sweepID, captureID string) string {
	return "captures/" + sweepID + "/" + captureID + "/"
}

// validateCaptureIDs checks that sweep and capture IDs make one key segment
// each.
func validateCaptureIDs(sweepID, captureID string) error {
	for _, id := range []string{sweepID, captureID} {
		if id == "" || strings.Contains(id, "/") {
			return fmt.Errorf("%w: sweep %q, capture %q: IDs must be non-empty and without '/'", ErrInvalidKey, sweepID, captureID)
		}
	}
	return validateKey(ManifestKey(sweepID, captureID))
}
