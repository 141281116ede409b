package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nlnwa/gowarc/v3"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/warciotest"
)

// revisitBundle is an evidence store holding one capture, c1 of sweep-1,
// and a later capture of the same page, c2 of sweep-2, to record as a
// revisit of it.
type revisitBundle struct {
	store  *Dir
	ev     *Evidence
	first  *Manifest
	c1, c2 *wildwatch.Capture
}

func newRevisitBundle(t *testing.T, rendered bool) *revisitBundle {
	t.Helper()
	store, err := NewDir(filepath.Join(t.TempDir(), "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	b := &revisitBundle{store: store, ev: &Evidence{Store: store, Signer: testSigner(t), Logger: testLogger(t)}}
	body := []byte("<html><h1>Carved ivory bangle</h1></html>")
	b.c1 = testCapture("c1", body)
	b.c2 = testCapture("c2", append([]byte(nil), body...))
	b.c2.SweepID = "sweep-2"
	b.c2.StartedAt = b.c1.StartedAt.Add(24 * time.Hour)
	b.c2.FetchedAt = b.c1.FetchedAt.Add(24 * time.Hour)
	b.c2.Header.Set("Date", "Sun, 15 Mar 2026 09:26:55 GMT") // headers may change; the payload does not
	if rendered {
		testRendered(b.c1)
		testRendered(b.c2)
		b.c2.Rendered.RenderedAt = b.c2.FetchedAt.Add(time.Second)
		b.c2.Rendered.Screenshot = append(b.c2.Rendered.Screenshot, 0) // a screenshot differs by a pixel
	}
	if b.first, err = b.ev.Record(t.Context(), testWARCParams(b.c1)); err != nil {
		t.Fatal(err)
	}
	return b
}

// record records c2 as a revisit of c1, with c1's rendered objects to reuse.
func (b *revisitBundle) record(t *testing.T) (*Manifest, *Revisit) {
	t.Helper()
	ctx := t.Context()
	rv, err := b.ev.RevisitOf(ctx, ManifestKey("sweep-1", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	earlier, err := b.ev.EarlierObjects(ctx, ManifestKey("sweep-1", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	p := testWARCParams(b.c2)
	p.Revisit, p.Earlier = rv, earlier
	m, err := b.ev.Record(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return m, rv
}

func (b *revisitBundle) read(t *testing.T, key string) []byte {
	t.Helper()
	data, err := readEvidenceBytes(context.Background(), b.store, key, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRevisitRecord records a capture whose payload equals an earlier
// one's: its WARC holds a revisit record naming the earlier response
// record, strictly valid for gowarc, and its manifest pins the earlier WARC
// and manifest, so tampering with them fails its verification.
func TestRevisitRecord(t *testing.T) {
	t.Parallel()
	b := newRevisitBundle(t, false)
	ctx := t.Context()
	m, rv := b.record(t)

	first, err := readWARC(t, b.read(t, b.first.Objects[0].Key))
	if err != nil {
		t.Fatal(err)
	}
	orig := first[2]
	if orig.kind != "response" {
		t.Fatalf("the first WARC's third record is a %s", orig.kind)
	}
	if rv.RecordID != orig.header.GetId(gowarc.WarcRecordID) || rv.TargetURI != b.c1.FinalURL ||
		rv.PayloadDigest != sha256Digest(b.c1.Body) || rv.CaptureID != "c1" {
		t.Errorf("RevisitOf = %+v; the response record is %s", rv, orig.header)
	}
	if d, _ := orig.header.GetTime(gowarc.WarcDate); !rv.Date.Equal(d) {
		t.Errorf("RevisitOf date %v, the record's %v", rv.Date, d)
	}

	roles := []string{}
	for _, o := range m.Objects {
		roles = append(roles, o.Role)
	}
	if !slices.Equal(roles, []string{RoleWARC, RoleRevisitedWARC, RoleRevisitedManifest}) {
		t.Fatalf("manifest roles %q", roles)
	}
	if m.Objects[1].Key != b.first.Objects[0].Key || m.Objects[1].SHA256 != b.first.Objects[0].SHA256 ||
		m.Objects[2].Key != ManifestKey("sweep-1", "c1") {
		t.Errorf("revisited objects %+v, the first capture's %+v", m.Objects[1:], b.first.Objects)
	}
	var rec CaptureRecord
	rec.SetEvidence(m)
	if rec.RefersTo != "c1" || rec.WARCKey != m.Objects[0].Key {
		t.Errorf("SetEvidence: refers to %q, WARC %s", rec.RefersTo, rec.WARCKey)
	}

	data := b.read(t, m.Objects[0].Key)
	recs, err := readWARC(t, data)
	if err != nil {
		t.Fatalf("gowarc rejects the revisit WARC: %v", err)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.kind)
	}
	if !slices.Equal(kinds, []string{"warcinfo", "request", "revisit", "metadata"}) {
		t.Fatalf("record types %q", kinds)
	}
	revisit := recs[2]
	h := revisit.header
	for name, want := range map[string]string{
		gowarc.WarcProfile:           gowarc.ProfileIdenticalPayloadDigestV1_1,
		gowarc.WarcRefersTo:          "<" + rv.RecordID + ">",
		gowarc.WarcRefersToTargetURI: b.c1.FinalURL,
		gowarc.WarcRefersToDate:      orig.header.Get(gowarc.WarcDate),
		gowarc.WarcPayloadDigest:     sha256Digest(b.c2.Body),
		gowarc.WarcTargetURI:         b.c2.FinalURL,
		gowarc.ContentType:           "application/http; msgtype=response",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("revisit %s = %q, want %q", name, got, want)
		}
	}
	if bytes.Contains(revisit.block, b.c2.Body) || !bytes.HasSuffix(revisit.block, []byte("\r\n\r\n")) ||
		!bytes.Contains(revisit.block, []byte("Date: Sun, 15 Mar 2026 09:26:55 GMT")) {
		t.Errorf("revisit block is not the response header alone:\n%q", revisit.block)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(recs[3].block, &meta); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(meta["revisit_of"]), `"capture_id":"c1"`) {
		t.Errorf("metadata revisit_of = %s", meta["revisit_of"])
	}

	x, err := ReadWARCExchange(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if x.ResponseRecord != "revisit" || x.RefersTo != rv.RecordID || x.Status != 200 || x.Response.Line != "HTTP/1.1 200 OK" ||
		x.Request.Line != "GET /item/42?ref=a%20b HTTP/1.1" || x.RefersToDate == nil || !x.RefersToDate.Equal(rv.Date) {
		t.Errorf("exchange %+v", x)
	}

	pub := b.ev.Signer.PublicKey()
	res, err := VerifyCapture(ctx, b.store, ManifestKey("sweep-2", "c2"), pub)
	if err != nil || !res.OK {
		t.Fatalf("revisit capture does not verify: %+v %v", res, err)
	}
	// The revisited WARC changed: the revisit no longer verifies, and
	// nothing new may refer to it.
	path := filepath.Join(b.store.root, filepath.FromSlash(b.first.Objects[0].Key))
	orig1 := b.read(t, b.first.Objects[0].Key)
	tampered := append([]byte(nil), orig1...)
	tampered[len(tampered)/2] ^= 0xff
	_ = os.Chmod(path, 0o644)
	if err := os.WriteFile(path, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = VerifyCapture(ctx, b.store, ManifestKey("sweep-2", "c2"), pub)
	if err != nil || res.OK || !strings.Contains(strings.Join(res.Problems, "\n"), b.first.Objects[0].Key) {
		t.Errorf("revisit of a tampered WARC verifies: %+v %v", res, err)
	}
	if _, err := b.ev.RevisitOf(ctx, ManifestKey("sweep-1", "c1")); err == nil {
		t.Error("RevisitOf a tampered WARC succeeded")
	}
}

// TestRevisitRendered records a rendered page seen again: the same DOM is
// not stored again (the manifest names the earlier object, the WARC leaves
// its resource record out), the changed screenshot is.
func TestRevisitRendered(t *testing.T) {
	t.Parallel()
	b := newRevisitBundle(t, true)
	m, _ := b.record(t)
	byRole := map[string]ManifestObject{}
	for _, o := range m.Objects {
		byRole[o.Role] = o
	}
	firstByRole := map[string]ManifestObject{}
	for _, o := range b.first.Objects {
		firstByRole[o.Role] = o
	}
	if byRole[RoleDOM] != firstByRole[RoleDOM] {
		t.Errorf("DOM %+v, want the earlier %+v", byRole[RoleDOM], firstByRole[RoleDOM])
	}
	if s := byRole[RoleScreenshot]; s.Key == firstByRole[RoleScreenshot].Key || !strings.HasPrefix(s.Key, "captures/sweep-2/c2/") {
		t.Errorf("changed screenshot stored as %s", s.Key)
	}
	recs, err := readWARC(t, b.read(t, byRole[RoleWARC].Key))
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, r := range recs {
		if r.kind == "resource" {
			targets = append(targets, r.header.Get(gowarc.WarcTargetURI))
		}
	}
	if !slices.Equal(targets, []string{screenshotURIPrefix + b.c2.FinalURL}) {
		t.Errorf("resource records %q, want the screenshot alone", targets)
	}
	var meta struct {
		Reused []ManifestObject `json:"reused"`
	}
	if err := json.Unmarshal(recs[len(recs)-1].block, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Reused) != 1 || meta.Reused[0] != firstByRole[RoleDOM] {
		t.Errorf("metadata reused = %+v", meta.Reused)
	}
	res, err := VerifyCapture(t.Context(), b.store, ManifestKey("sweep-2", "c2"), b.ev.Signer.PublicKey())
	if err != nil || !res.OK {
		t.Errorf("rendered revisit does not verify: %+v %v", res, err)
	}
}

// TestRevisitOtherPayload refuses to write a revisit for a payload that
// is not the revisited one.
func TestRevisitOtherPayload(t *testing.T) {
	t.Parallel()
	b := newRevisitBundle(t, false)
	rv, err := b.ev.RevisitOf(t.Context(), ManifestKey("sweep-1", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	b.c2.Body = []byte("<html><h1>Sold</h1></html>")
	p := testWARCParams(b.c2)
	p.Revisit = rv
	var buf bytes.Buffer
	if err := WriteWARC(&buf, p); err == nil || !strings.Contains(err.Error(), "payload digest") {
		t.Errorf("WriteWARC of a revisit with another payload = %v", err)
	}
	if _, err := b.ev.RevisitOf(t.Context(), ManifestKey("sweep-1", "nope")); err == nil {
		t.Error("RevisitOf a missing capture succeeded")
	}
}

// TestRevisitReadByWarcio reads a revisit WARC with webrecorder's
// warcio.js: it sees the revisit record with its profile, the record it
// refers to, the HTTP status and no payload.
func TestRevisitReadByWarcio(t *testing.T) {
	t.Parallel()
	module := warciotest.Install(t)
	b := newRevisitBundle(t, false)
	m, rv := b.record(t)
	path := filepath.Join(b.store.root, filepath.FromSlash(m.Objects[0].Key))
	recs := warciotest.Read(t, module, path)
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Type)
	}
	if !slices.Equal(kinds, []string{"warcinfo", "request", "revisit", "metadata"}) {
		t.Fatalf("warcio read %q", kinds)
	}
	r := recs[2]
	if r.Profile != gowarc.ProfileIdenticalPayloadDigestV1_1 || r.RefersTo != "<"+rv.RecordID+">" ||
		r.RefersToTargetURI != b.c1.FinalURL || r.PayloadDigest != sha256Digest(b.c1.Body) || r.Status != 200 || r.PayloadLength != 0 {
		t.Errorf("warcio read the revisit as %+v", r)
	}
	first := warciotest.Read(t, module, filepath.Join(b.store.root, filepath.FromSlash(b.first.Objects[0].Key)))
	if first[2].ID != r.RefersTo || first[2].Date != r.RefersToDate {
		t.Errorf("revisit refers to %s of %s; the response is %s of %s", r.RefersTo, r.RefersToDate, first[2].ID, first[2].Date)
	}
}
