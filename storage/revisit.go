package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nlnwa/gowarc/v3"

	"github.com/wildwatch/wildwatch"
)

// Roles of the objects an unchanged capture's manifest names besides its
// own: the WARC that holds, in full, the response its revisit record
// refers to, and that WARC's manifest. Naming them pins their bytes, so
// verifying the capture also checks the evidence it leans on.
const (
	RoleRevisitedWARC     = "revisited_warc"
	RoleRevisitedManifest = "revisited_manifest"
)

// Revisit is the earlier response record that a capture with the same
// payload refers to instead of storing the payload again, and where it is
// kept. RevisitOf reads it from the earlier capture's evidence.
type Revisit struct {
	// RecordID, TargetURI and Date are the earlier response record's
	// WARC-Record-ID, WARC-Target-URI and WARC-Date; PayloadDigest its
	// WARC-Payload-Digest, which the new payload must equal.
	RecordID      string
	TargetURI     string
	Date          time.Time
	PayloadDigest string
	// CaptureID is the capture whose WARC holds the record; WARC and
	// Manifest are that WARC's and that capture's manifest's entries
	// (roles RoleRevisitedWARC and RoleRevisitedManifest).
	CaptureID string
	WARC      ManifestObject
	Manifest  ManifestObject
}

// PayloadDigest is the WARC payload digest of a response body as WriteWARC
// records it: "sha256:" and the lower-case hex SHA-256 of the body.
func PayloadDigest(body []byte) string { return sha256Label(body) }

// ContentDigest identifies what a capture showed: its response payload
// and, for a rendered capture, the rendered DOM. Two captures of a listing
// with the same content digest show the same thing.
func ContentDigest(c *wildwatch.Capture) string {
	payload := PayloadDigest(c.Body)
	if c.Rendered == nil {
		return payload
	}
	return sha256Label([]byte(payload + "\n" + sha256Label(c.Rendered.DOM)))
}

// revisitRecord is the revisit record that stands for c's response record,
// with the response's ID, target and address.
func revisitRecord(c *wildwatch.Capture, rv *Revisit, id, target, ip string) (warcRecordSpec, error) {
	if got := PayloadDigest(c.Body); got != rv.PayloadDigest {
		return warcRecordSpec{}, fmt.Errorf("revisit of %s: payload digest %s, the earlier record's is %s", rv.RecordID, got, rv.PayloadDigest)
	}
	if rv.RecordID == "" || rv.TargetURI == "" || rv.Date.IsZero() {
		return warcRecordSpec{}, errors.New("revisit without the earlier record's ID, target URI and date")
	}
	return warcRecordSpec{
		kind: gowarc.Revisit, id: id, contentType: warcTypeResponse,
		target: target, ip: ip,
		block:         responseHead(c),
		payloadDigest: rv.PayloadDigest,
		refersTo:      rv,
	}, nil
}

// earlierObject returns the object of p.Earlier with role and data's
// SHA-256, which then stands for data.
func (p WARCParams) earlierObject(role string, data []byte) (ManifestObject, bool) {
	if len(p.Earlier) == 0 || len(data) == 0 {
		return ManifestObject{}, false
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	i := slices.IndexFunc(p.Earlier, func(o ManifestObject) bool {
		return o.Role == role && strings.EqualFold(o.SHA256, digest) && o.Size == int64(len(data))
	})
	if i < 0 {
		return ManifestObject{}, false
	}
	return p.Earlier[i], true
}

// revisitObjects are the manifest entries of the evidence a revisit leans
// on; none without a revisit.
func (p WARCParams) revisitObjects() []ManifestObject {
	if p.Revisit == nil {
		return nil
	}
	return []ManifestObject{p.Revisit.WARC, p.Revisit.Manifest}
}

// maxRevisitedWARCBytes bounds how much of an earlier WARC RevisitOf reads.
const maxRevisitedWARCBytes = 256 << 20

// RevisitOf reads, from the evidence of the capture whose manifest is at
// manifestKey, the response record that a later capture with the same
// payload may refer to. It checks what it leans on: the manifest must
// parse and carry a valid signature by this Evidence's key, and the WARC
// must match the manifest's SHA-256 and hold a response record. An error
// means the later capture should store its response in full.
func (e *Evidence) RevisitOf(ctx context.Context, manifestKey string) (*Revisit, error) {
	if e.Store == nil || e.Signer == nil {
		return nil, errors.New("reading revisited capture: store and signer are required")
	}
	raw, err := readEvidenceBytes(ctx, e.Store, manifestKey, maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("reading revisited manifest: %w", err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("revisited manifest %s: %w", manifestKey, err)
	}
	if err := m.Verify(e.Signer.PublicKey()); err != nil {
		return nil, fmt.Errorf("revisited manifest %s: %w", manifestKey, err)
	}
	i := slices.IndexFunc(m.Objects, func(o ManifestObject) bool { return o.Role == RoleWARC })
	if i < 0 {
		return nil, fmt.Errorf("revisited manifest %s names no WARC", manifestKey)
	}
	wo := m.Objects[i]
	data, err := readEvidenceBytes(ctx, e.Store, wo.Key, maxRevisitedWARCBytes)
	if err != nil {
		return nil, fmt.Errorf("reading revisited WARC: %w", err)
	}
	if got := sha256Hex(data); !strings.EqualFold(got, wo.SHA256) || int64(len(data)) != wo.Size {
		return nil, fmt.Errorf("revisited WARC %s: SHA-256 %s and %d bytes, its manifest says %s and %d", wo.Key, got, len(data), wo.SHA256, wo.Size)
	}
	var rv *Revisit
	err = scanWARC(bytes.NewReader(data), func(r *warcRead) bool {
		if r.get(gowarc.WarcType) != gowarc.Response.String() {
			return true
		}
		date, derr := time.Parse(time.RFC3339Nano, r.get(gowarc.WarcDate))
		if derr != nil {
			return false
		}
		rv = &Revisit{
			RecordID:      strings.Trim(r.get(gowarc.WarcRecordID), "<>"),
			TargetURI:     r.get(gowarc.WarcTargetURI),
			Date:          date,
			PayloadDigest: r.get(gowarc.WarcPayloadDigest),
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("revisited WARC %s: %w", wo.Key, err)
	}
	if rv == nil || rv.RecordID == "" || rv.TargetURI == "" || rv.PayloadDigest == "" {
		return nil, fmt.Errorf("revisited WARC %s has no complete response record", wo.Key)
	}
	rv.CaptureID = m.CaptureID
	rv.WARC = wo
	rv.WARC.Role = RoleRevisitedWARC
	rv.Manifest = ManifestObject{Key: manifestKey, Role: RoleRevisitedManifest, SHA256: sha256Hex(raw), Size: int64(len(raw)), ContentType: ContentTypeManifest}
	return rv, nil
}

// EarlierObjects returns the rendered DOM and screenshot entries of the
// manifest at manifestKey, for WARCParams.Earlier; none for a static
// capture.
func (e *Evidence) EarlierObjects(ctx context.Context, manifestKey string) ([]ManifestObject, error) {
	m, err := readManifest(ctx, e.Store, manifestKey)
	if err != nil {
		return nil, fmt.Errorf("reading earlier manifest: %w", err)
	}
	var out []ManifestObject
	for _, o := range m.Objects {
		if o.Role == RoleDOM || o.Role == RoleScreenshot {
			out = append(out, o)
		}
	}
	return out, nil
}

// readEvidenceBytes reads a whole evidence object of at most limit bytes.
func readEvidenceBytes(ctx context.Context, store wildwatch.EvidenceStore, key string, limit int64) ([]byte, error) {
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, limit)
	}
	return data, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
