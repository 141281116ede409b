package storage

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/nlnwa/gowarc/v3"

	"github.com/wildwatch/wildwatch"
)

// Software is the name written into warcinfo records and manifests.
const Software = "wildwatch"

// WARCParams is what one WARC file records: a capture, what was read from
// it and what detection decided.
type WARCParams struct {
	Capture *wildwatch.Capture
	Listing wildwatch.Listing
	Verdict wildwatch.Verdict
	// Software and SoftwareVersion name the program that made the capture;
	// defaults Software and wildwatch.Version.
	Software        string
	SoftwareVersion string
	// RuleSet is the "name@version" of the rules that judged the listing;
	// default Verdict.RuleSet.
	RuleSet string
	// Revisit, when set, makes the WARC record the response as a revisit
	// of an earlier response with the same payload (see Revisit).
	Revisit *Revisit
	// Removed, when set, says why the page shows that the listing is gone
	// (crawler.Removal); it goes into the metadata record.
	Removed string
	// Earlier are the rendered DOM and screenshot objects of an earlier
	// capture of the listing (Evidence.EarlierObjects). A DOM or screenshot
	// of this capture with the same role, size and SHA-256 as one of them
	// is not kept again: the WARC leaves its resource record out and the
	// metadata record names the earlier object under "reused", and
	// Evidence.Record names the earlier object in the manifest.
	Earlier []ManifestObject
	// FirstAttempt tells Evidence.Record that no earlier attempt of this
	// capture is known to have stored its evidence, so that it does not
	// look for a stored manifest before writing (one request fewer per
	// capture). It is a hint, not a promise Record relies on: should a
	// manifest exist anyway, Record still returns it (see Record).
	FirstAttempt bool
}

func (p WARCParams) withDefaults() WARCParams {
	p.Software = cmp.Or(p.Software, Software)
	p.SoftwareVersion = cmp.Or(p.SoftwareVersion, wildwatch.Version)
	p.RuleSet = cmp.Or(p.RuleSet, p.Verdict.RuleSet)
	return p
}

// Headers added to the stored response when the body's framing was
// rewritten, keeping what the server sent.
const (
	headerOrigContentLength    = "X-Wildwatch-Orig-Content-Length"
	headerOrigTransferEncoding = "X-Wildwatch-Orig-Transfer-Encoding"
)

// Content types of WARC record blocks.
const (
	warcTypeRequest  = "application/http; msgtype=request"
	warcTypeResponse = "application/http; msgtype=response"
	warcTypeMetadata = "application/json"
)

// gzipWriters are reused: a compressor's state is large, and making one
// for every WARC cost more than compressing a listing page.
var gzipWriters = sync.Pool{New: func() any {
	gz, _ := gzip.NewWriterLevel(io.Discard, warcGzipLevel)
	return gz
}}

// warcGzipLevel trades a little size for much less CPU: listing pages are
// small and compress well at any level. The compressor is
// klauspost/compress's gzip: the same format as compress/gzip, at about
// twice its speed and a slightly better ratio on listing pages (16 KiB of
// HTML: 524 against 254 MB/s on one core, 0.209 against 0.216 of the size).
const warcGzipLevel = gzip.BestSpeed

// WriteWARC writes one gzip-compressed WARC 1.1 file for a capture, each
// record its own gzip member:
//
//   - warcinfo: software, format, the sweep, target and rule set, the fetch
//     mode and, for a rendered capture, the browser;
//   - request: the request line and Capture.RequestHeader (method GET,
//     target Capture.FinalURL, else Capture.URL);
//   - response: the status line, Capture.Header and Capture.Body exactly as
//     received, with WARC-IP-Address Capture.RemoteIP and WARC-Truncated
//     "length" when the body was cut. Body is stored after transfer
//     decoding, so Transfer-Encoding is dropped and Content-Length set to
//     the stored length; the values the server sent, if different, are kept
//     as X-Wildwatch-Orig-Transfer-Encoding and
//     X-Wildwatch-Orig-Content-Length. For a rendered capture too this is
//     the main document as the server sent it, never the rendered DOM;
//   - for a rendered capture (Capture.Rendered not nil), two resource
//     records: the rendered DOM (ContentTypeDOM, WARC-Target-URI
//     "urn:wildwatch:dom:" + the target URI) and the full-page screenshot
//     (ContentTypeScreenshot, "urn:wildwatch:screenshot:" + the target
//     URI), each dated Rendering.RenderedAt; one whose bytes are empty, or
//     the same as an object of WARCParams.Earlier, is left out;
//   - metadata: application/json {"listing": …, "verdict": …, "mode": …,
//     "mode_reason": …, "rendered": {"viewport", "rendered_at", "browser",
//     "warnings"}, "removed": …, "revisit_of": …, "reused": […]}, each of
//     the last six omitted when the capture has none.
//
// With WARCParams.Revisit the response record is replaced by a revisit
// record of the identical-payload-digest profile (WARC 1.1, section 6.7.2):
// WARC-Refers-To, WARC-Refers-To-Target-URI and WARC-Refers-To-Date name
// the earlier response record, WARC-Payload-Digest is the payload's digest
// (which must be Revisit.PayloadDigest), and the block is the status line
// and response header alone, the payload left out.
//
// Every record has a WARC-Record-ID, WARC-Date (the capture's FetchedAt,
// else StartedAt, in UTC; RenderedAt for resource records when set) and
// SHA-256 block digests; request, response and
// resource records have payload digests (for a resource, its whole block);
// request, resource and metadata records name the response in
// WARC-Concurrent-To. Record IDs are random, so two WARCs of one capture
// differ.
//
// Records are framed here with gowarc's header model (gowarc.WarcFields)
// rather than its record builder: every gowarc constructor of records or
// readers calls uuid.EnableRandPool, an unsynchronised write to a global of
// github.com/google/uuid, which is a data race with any UUID generated
// concurrently anywhere in the process (asynq makes task IDs that way).
// The tests read every WARC back with gowarc's strict reader and with
// webrecorder's warcio.js, which check framing, lengths and digests.
func WriteWARC(w io.Writer, p WARCParams) error {
	c := p.Capture
	if c == nil {
		return errors.New("writing warc: no capture")
	}
	p = p.withDefaults()
	target := cmp.Or(c.FinalURL, c.URL)
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("writing warc: capture %s: bad URL %q", c.ID, target)
	}
	if c.Status < 100 || c.Status > 999 {
		return fmt.Errorf("writing warc: capture %s: bad status %d", c.ID, c.Status)
	}
	date := c.FetchedAt
	if date.IsZero() {
		date = c.StartedAt
	}
	if date.IsZero() {
		return fmt.Errorf("writing warc: capture %s has no time", c.ID)
	}
	date = date.UTC()

	ip, err := warcIP(c.RemoteIP)
	if err != nil {
		return fmt.Errorf("writing warc: capture %s: %w", c.ID, err)
	}
	ids := struct{ info, request, response, metadata string }{newRecordID(), newRecordID(), newRecordID(), newRecordID()}
	meta := warcMetadata{
		Listing:    p.Listing,
		Verdict:    p.Verdict,
		Mode:       c.Mode,
		ModeReason: c.ModeReason,
		Rendered:   c.Rendered,
		Removed:    p.Removed,
	}
	response := warcRecordSpec{
		kind: gowarc.Response, id: ids.response, contentType: warcTypeResponse,
		target: target, ip: ip, truncated: c.Truncated,
		block: responseBlock(c),
	}
	if rv := p.Revisit; rv != nil {
		if response, err = revisitRecord(c, rv, ids.response, target, ip); err != nil {
			return fmt.Errorf("writing warc: capture %s: %w", c.ID, err)
		}
		meta.RevisitOf = &warcRevisitOf{CaptureID: rv.CaptureID, RecordID: rv.RecordID, WARC: rv.WARC.Key}
	}

	records := []warcRecordSpec{
		{
			kind: gowarc.Warcinfo, id: ids.info, contentType: gowarc.ApplicationWarcFields,
			block: warcInfoBlock(p),
		},
		{
			kind: gowarc.Request, id: ids.request, contentType: warcTypeRequest,
			target: target, concurrentTo: ids.response,
			block: requestBlock(c, u),
		},
		response,
	}
	rendered, reused := renderedRecords(p, target, ids.response)
	records = append(records, rendered...)
	meta.Reused = reused
	metadata, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("writing warc: capture %s: %w", c.ID, err)
	}
	records = append(records, warcRecordSpec{
		kind: gowarc.Metadata, id: ids.metadata, contentType: warcTypeMetadata,
		target: target, concurrentTo: ids.response,
		block: metadata,
	})
	gz := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(gz)
	for _, spec := range records {
		if spec.date.IsZero() {
			spec.date = date
		}
		spec.warcinfo = ids.info
		if spec.kind == gowarc.Warcinfo {
			spec.warcinfo = ""
		}
		gz.Reset(w)
		if err := spec.write(gz); err != nil {
			return fmt.Errorf("writing warc: capture %s: %s record: %w", c.ID, spec.kind, err)
		}
		if err := gz.Close(); err != nil {
			return fmt.Errorf("writing warc: capture %s: %w", c.ID, err)
		}
	}
	return nil
}

// warcMetadata is the block of the metadata record. Rendered's DOM and
// Screenshot are not encoded (they have resource records of their own).
type warcMetadata struct {
	Listing    wildwatch.Listing    `json:"listing"`
	Verdict    wildwatch.Verdict    `json:"verdict"`
	Mode       string               `json:"mode,omitempty"`
	ModeReason string               `json:"mode_reason,omitempty"`
	Rendered   *wildwatch.Rendering `json:"rendered,omitempty"`
	Removed    string               `json:"removed,omitempty"`
	RevisitOf  *warcRevisitOf       `json:"revisit_of,omitempty"`
	Reused     []ManifestObject     `json:"reused,omitempty"`
}

// warcRevisitOf names, in the metadata record, the capture and WARC that
// hold the response a revisit record refers to.
type warcRevisitOf struct {
	CaptureID string `json:"capture_id"`
	RecordID  string `json:"record_id"`
	WARC      string `json:"warc"`
}

// URI prefixes of the resource records of a rendered capture; the target
// URI follows.
const (
	domURIPrefix        = "urn:wildwatch:dom:"
	screenshotURIPrefix = "urn:wildwatch:screenshot:"
)

// renderedRecords returns the resource records of a capture's rendering,
// DOM first, each concurrent to the response; none for a static capture or
// empty bytes. Bytes that an object of p.Earlier holds are left out, and
// that object is returned among the reused ones instead.
func renderedRecords(p WARCParams, target, responseID string) (specs []warcRecordSpec, reused []ManifestObject) {
	r := p.Capture.Rendered
	if r == nil {
		return nil, nil
	}
	for _, res := range []struct {
		role, prefix, contentType string
		block                     []byte
	}{
		{RoleDOM, domURIPrefix, ContentTypeDOM, r.DOM},
		{RoleScreenshot, screenshotURIPrefix, ContentTypeScreenshot, r.Screenshot},
	} {
		if len(res.block) == 0 {
			continue
		}
		if o, ok := p.earlierObject(res.role, res.block); ok {
			reused = append(reused, o)
			continue
		}
		specs = append(specs, warcRecordSpec{
			kind: gowarc.Resource, id: newRecordID(), date: r.RenderedAt.UTC(),
			contentType: res.contentType, target: res.prefix + target,
			concurrentTo: responseID, block: res.block,
		})
	}
	return specs, reused
}

// newRecordID returns a random (version 4) UUID URN.
func newRecordID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "urn:uuid:" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// warcIP returns the address for WARC-IP-Address: "" when unknown, the
// address alone when given with a port.
func warcIP(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String(), nil
	}
	return "", fmt.Errorf("bad remote IP %q", s)
}

// warcRecordSpec is one record to write.
type warcRecordSpec struct {
	kind         gowarc.RecordType
	id           string
	date         time.Time
	contentType  string
	target       string
	ip           string
	concurrentTo string
	warcinfo     string
	truncated    bool
	block        []byte
	// payloadDigest, when set, is written as WARC-Payload-Digest instead of
	// one computed from the block (revisit records, whose block has no
	// payload).
	payloadDigest string
	// refersTo names the record a revisit record refers to.
	refersTo *Revisit
}

var (
	warcCRLF     = []byte("\r\n")
	warcCRLFCRLF = []byte("\r\n\r\n")
)

// write writes the record: version line, header, blank line, block and the
// two CRLFs that end a record. Request and response blocks get a payload
// digest over the bytes after their HTTP header, resource blocks one over
// the whole block.
func (s warcRecordSpec) write(w io.Writer) error {
	h := &gowarc.WarcFields{}
	h.Add(gowarc.WarcType, s.kind.String())
	h.AddId(gowarc.WarcRecordID, s.id)
	h.AddTimeNano(gowarc.WarcDate, s.date)
	if s.target != "" {
		h.Add(gowarc.WarcTargetURI, s.target)
	}
	if s.ip != "" {
		h.Add(gowarc.WarcIPAddress, s.ip)
	}
	if s.concurrentTo != "" {
		h.AddId(gowarc.WarcConcurrentTo, s.concurrentTo)
	}
	if s.warcinfo != "" {
		h.AddId(gowarc.WarcWarcinfoID, s.warcinfo)
	}
	if s.truncated {
		h.Add(gowarc.WarcTruncated, "length")
	}
	if r := s.refersTo; r != nil {
		h.Add(gowarc.WarcProfile, gowarc.ProfileIdenticalPayloadDigestV1_1)
		h.AddId(gowarc.WarcRefersTo, r.RecordID)
		h.Add(gowarc.WarcRefersToTargetURI, r.TargetURI)
		h.AddTimeNano(gowarc.WarcRefersToDate, r.Date)
	}
	h.Add(gowarc.ContentType, s.contentType)
	h.Add(gowarc.WarcBlockDigest, sha256Label(s.block))
	if s.payloadDigest != "" {
		h.Add(gowarc.WarcPayloadDigest, s.payloadDigest)
	} else if s.kind == gowarc.Request || s.kind == gowarc.Response {
		i := bytes.Index(s.block, warcCRLFCRLF)
		if i < 0 {
			return errors.New("http block without end of header")
		}
		h.Add(gowarc.WarcPayloadDigest, sha256Label(s.block[i+len(warcCRLFCRLF):]))
	}
	if s.kind == gowarc.Resource {
		h.Add(gowarc.WarcPayloadDigest, sha256Label(s.block))
	}
	h.AddInt(gowarc.ContentLength, len(s.block))

	var b bytes.Buffer
	b.WriteString(gowarc.V1_1.String())
	b.Write(warcCRLF)
	_, _ = h.Write(&b) // a bytes.Buffer does not fail
	b.Write(warcCRLF)
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	if _, err := w.Write(s.block); err != nil {
		return err
	}
	_, err := w.Write(warcCRLFCRLF)
	return err
}

// sha256Label is a WARC digest: "sha256:" and the lower-case hex digest.
func sha256Label(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func warcInfoBlock(p WARCParams) []byte {
	c := p.Capture
	var b bytes.Buffer
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", name, oneLine(value))
		}
	}
	field("software", p.Software+"/"+p.SoftwareVersion)
	field("format", "WARC File Format 1.1")
	field("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/")
	field("isPartOf", c.SweepID)
	field("wildwatch-target", c.Target)
	field("wildwatch-capture-id", c.ID)
	field("wildwatch-rule-set", p.RuleSet)
	field("http-header-user-agent", c.UserAgent)
	field("wildwatch-mode", c.Mode)
	if c.Rendered != nil {
		field("wildwatch-browser", c.Rendered.Browser)
	}
	return b.Bytes()
}

// oneLine keeps a warc-fields value on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

func httpProto(c *wildwatch.Capture) string {
	if strings.HasPrefix(c.Proto, "HTTP/") {
		return c.Proto
	}
	return "HTTP/1.1"
}

// requestBlock reconstructs the request as sent: the request line in
// origin form, Host, then the captured request header.
func requestBlock(c *wildwatch.Capture, u *url.URL) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s %s\r\n", u.RequestURI(), httpProto(c))
	h := c.RequestHeader.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("User-Agent") == "" && c.UserAgent != "" {
		h.Set("User-Agent", c.UserAgent)
	}
	host := h.Get("Host")
	h.Del("Host")
	fmt.Fprintf(&b, "Host: %s\r\n", cmp.Or(host, u.Host))
	_ = h.Write(&b) // a bytes.Buffer does not fail
	b.WriteString("\r\n")
	return b.Bytes()
}

// responseBlock is the status line, the response header with its framing
// made to agree with the stored body, and the body.
func responseBlock(c *wildwatch.Capture) []byte {
	return append(responseHead(c), c.Body...)
}

// responseHead is the status line and the response header of
// responseBlock, with the blank line that ends them.
func responseHead(c *wildwatch.Capture) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d %s\r\n", httpProto(c), c.Status, cmp.Or(http.StatusText(c.Status), "Unknown"))
	h := c.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	length := strconv.Itoa(len(c.Body))
	if te := h.Values("Transfer-Encoding"); len(te) > 0 {
		h.Del("Transfer-Encoding")
		h.Set(headerOrigTransferEncoding, strings.Join(te, ", "))
	}
	if cl := h.Values("Content-Length"); len(cl) > 0 && (len(cl) != 1 || cl[0] != length) {
		h.Set(headerOrigContentLength, strings.Join(cl, ", "))
	}
	h.Set("Content-Length", length)
	_ = h.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}
