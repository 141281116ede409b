package storage

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nlnwa/gowarc/v3"

	"github.com/wildwatch/wildwatch"
)

// testCapture returns a capture of a listing page with the given body.
func testCapture(id string, body []byte) *wildwatch.Capture {
	started := time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.FixedZone("CET", 3600))
	return &wildwatch.Capture{
		ID:        id,
		SweepID:   "sweep-1",
		Target:    "example-market",
		URL:       "http://market.example/item?id=42",
		FinalURL:  "https://market.example/item/42?ref=a%20b",
		RemoteIP:  "192.0.2.7",
		StartedAt: started,
		FetchedAt: started.Add(1500 * time.Millisecond),
		Status:    200,
		UserAgent: wildwatch.DefaultUserAgent,
		RequestHeader: http.Header{
			"Accept":          {"text/html"},
			"Accept-Encoding": {"gzip"},
		},
		Header: http.Header{
			"Content-Type":   {"text/html; charset=utf-8"},
			"Content-Length": {"999"},
			"Set-Cookie":     {"a=1", "b=2"},
		},
		Proto: "HTTP/1.1",
		Body:  body,
	}
}

func testWARCParams(c *wildwatch.Capture) WARCParams {
	return WARCParams{
		Capture: c,
		Listing: wildwatch.Listing{URL: c.FinalURL, Title: "Carved ivory bangle", Price: "120", Currency: "EUR"},
		Verdict: wildwatch.Verdict{
			Flagged: true, Score: 0.9, Category: "ivory", RuleSet: "default@3",
			Matches: []wildwatch.Match{{Rule: "ivory", Category: "ivory", Field: "title", Start: 7, End: 12, Text: "ivory", Weight: 0.9}},
		},
		SoftwareVersion: "1.2.3",
	}
}

// testPNG is a 2×2 PNG, standing in for a full-page screenshot.
var testPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x02\b\x06\x00\x00\x00r\xb6\r$" +
	"\x00\x00\x00\x18IDATx\x9cb:\xb1\xa5\xe2?\x03\f\x88h\xd8\xfc\a\x04\x00\x00\xff\xff/\xf7\x04m" +
	"\r_\x8d\xa1\x00\x00\x00\x00IEND\xaeB`\x82")

// testRendered makes c a rendered capture: the server's body stays, the
// browser's DOM and screenshot are added.
func testRendered(c *wildwatch.Capture) *wildwatch.Capture {
	c.Mode = wildwatch.RenderBrowser
	c.ModeReason = "static listing had no title"
	c.Rendered = &wildwatch.Rendering{
		DOM:        []byte("<html><head><title>Carved ivory bangle</title></head><body><h1>Carved ivory bangle 象牙手镯</h1><p class=\"price\">120</p></body></html>"),
		Screenshot: append([]byte(nil), testPNG...),
		Viewport:   wildwatch.Viewport{Width: 1280, Height: 800},
		RenderedAt: c.FetchedAt.Add(2345 * time.Millisecond),
		Browser:    "Chrome/131.0.6778.85",
		Warnings:   []string{"wait selector h1.title never appeared", "network never went idle"},
	}
	return c
}

// warcRecord is what the tests read back from a WARC.
type warcRecord struct {
	kind    string
	header  *gowarc.WarcFields
	block   []byte
	payload []byte
	http    *http.Header
}

// gowarcReaderMu serialises the making of gowarc readers, which writes a
// global of github.com/google/uuid (see WriteWARC).
var gowarcReaderMu sync.Mutex

// readWARC reads every record with gowarc, validating syntax and digests
// strictly.
func readWARC(t *testing.T, data []byte) ([]warcRecord, error) {
	t.Helper()
	gowarcReaderMu.Lock()
	r, err := gowarc.NewWarcFileReaderFromStream(bytes.NewReader(data), 0, gowarc.WithStrictValidation())
	gowarcReaderMu.Unlock()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []warcRecord
	for rec, err := range r.Records() {
		if err != nil {
			return out, err
		}
		wr := rec.WarcRecord
		if len(rec.Validation) > 0 {
			return out, errors.Join(rec.Validation...)
		}
		// Digests are checked as the block is read.
		if _, err := wr.ValidateDigest(); err != nil {
			return out, err
		}
		got := warcRecord{kind: wr.Type().String(), header: wr.WarcHeader()}
		raw, err := wr.Block().RawBytes()
		if err != nil {
			return out, err
		}
		if got.block, err = io.ReadAll(raw); err != nil {
			return out, err
		}
		if pb, ok := wr.Block().(gowarc.PayloadBlock); ok {
			p, err := pb.PayloadBytes()
			if err != nil {
				return out, err
			}
			if got.payload, err = io.ReadAll(p); err != nil {
				return out, err
			}
		}
		if hb, ok := wr.Block().(gowarc.HttpResponseBlock); ok {
			got.http = hb.HttpHeader()
		}
		out = append(out, got)
		rec.Close()
	}
	return out, nil
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestWriteWARC(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("<html><title>Pangolin scales 1kg</title></html>"))
	zw.Close()

	tests := []struct {
		name           string
		edit           func(c *wildwatch.Capture)
		wantOrigLength string
		wantOrigTE     string
		wantTruncated  bool
	}{
		{
			name: "plain",
			edit: func(c *wildwatch.Capture) { c.Header.Set("Content-Length", strconv.Itoa(len(c.Body))) },
		},
		{
			name: "gzip body, chunked",
			edit: func(c *wildwatch.Capture) {
				c.Body = gz.Bytes()
				c.Header.Del("Content-Length")
				c.Header.Set("Content-Encoding", "gzip")
				c.Header.Set("Transfer-Encoding", "chunked")
			},
			wantOrigTE: "chunked",
		},
		{
			name: "truncated",
			edit: func(c *wildwatch.Capture) {
				c.Header.Set("Content-Length", "10485761")
				c.Truncated = true
			},
			wantOrigLength: "10485761",
			wantTruncated:  true,
		},
		{
			name: "static with mode",
			edit: func(c *wildwatch.Capture) {
				c.Header.Set("Content-Length", strconv.Itoa(len(c.Body)))
				c.Mode, c.ModeReason = wildwatch.RenderStatic, "target is static"
			},
		},
		{
			name: "rendered",
			edit: func(c *wildwatch.Capture) {
				c.Header.Set("Content-Length", strconv.Itoa(len(c.Body)))
				testRendered(c)
			},
		},
		{
			name: "rendered without a screenshot or a time",
			edit: func(c *wildwatch.Capture) {
				c.Header.Del("Content-Length")
				testRendered(c)
				c.Rendered.Screenshot = nil
				c.Rendered.RenderedAt = time.Time{}
				c.Rendered.Warnings = nil
			},
		},
		{
			name: "empty 404 without IP",
			edit: func(c *wildwatch.Capture) {
				c.Status = 404
				c.Body = nil
				c.RemoteIP = ""
				c.Header.Del("Content-Length")
				c.FinalURL = ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testCapture("c1", []byte("<html><title>Carved ivory bangle</title>\x00\xff</html>"))
			tt.edit(c)
			p := testWARCParams(c)
			var buf bytes.Buffer
			if err := WriteWARC(&buf, p); err != nil {
				t.Fatal(err)
			}
			recs, err := readWARC(t, buf.Bytes())
			if err != nil {
				t.Fatalf("reading the WARC back: %v", err)
			}
			checkWARC(t, c, p, recs, tt.wantOrigLength, tt.wantOrigTE, tt.wantTruncated)
		})
	}
}

func checkWARC(t *testing.T, c *wildwatch.Capture, p WARCParams, recs []warcRecord, origLength, origTE string, truncated bool) {
	t.Helper()
	// The resource records a rendering should have, in order.
	type resource struct {
		uriPrefix, contentType string
		data                   []byte
	}
	var resources []resource
	if r := c.Rendered; r != nil {
		for _, res := range []resource{{"urn:wildwatch:dom:", "text/html; charset=utf-8", r.DOM}, {"urn:wildwatch:screenshot:", "image/png", r.Screenshot}} {
			if len(res.data) > 0 {
				resources = append(resources, res)
			}
		}
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.kind)
	}
	wantKinds := []string{"warcinfo", "request", "response"}
	for range resources {
		wantKinds = append(wantKinds, "resource")
	}
	wantKinds = append(wantKinds, "metadata")
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Fatalf("record types = %q, want %q", kinds, wantKinds)
	}
	info, req, resp, meta := recs[0], recs[1], recs[2], recs[len(recs)-1]
	target := c.FinalURL
	if target == "" {
		target = c.URL
	}
	wantDate := c.FetchedAt.UTC().Format(time.RFC3339Nano)
	ids := map[string]bool{}
	for i, r := range recs {
		date, uri := wantDate, target
		if r.kind == "resource" {
			if c.Rendered != nil && !c.Rendered.RenderedAt.IsZero() {
				date = c.Rendered.RenderedAt.UTC().Format(time.RFC3339Nano)
			}
			uri = resources[i-3].uriPrefix + target
		}
		if d := r.header.Get(gowarc.WarcDate); d != date {
			t.Errorf("%s WARC-Date = %q, want %q", r.kind, d, date)
		}
		id := r.header.Get(gowarc.WarcRecordID)
		if !strings.HasPrefix(id, "<urn:uuid:") || ids[id] {
			t.Errorf("%s WARC-Record-ID %q is not a new urn:uuid", r.kind, id)
		}
		ids[id] = true
		if d := r.header.Get(gowarc.WarcBlockDigest); d != sha256Digest(r.block) {
			t.Errorf("%s block digest %q, want %q", r.kind, d, sha256Digest(r.block))
		}
		if r.kind != "warcinfo" {
			if got := r.header.Get(gowarc.WarcTargetURI); got != uri {
				t.Errorf("%s WARC-Target-URI = %q, want %q", r.kind, got, uri)
			}
			if got := r.header.Get(gowarc.WarcWarcinfoID); got != info.header.Get(gowarc.WarcRecordID) {
				t.Errorf("%s WARC-Warcinfo-ID = %q", r.kind, got)
			}
		}
	}
	respID := resp.header.Get(gowarc.WarcRecordID)
	for _, r := range append([]warcRecord{req, meta}, recs[3:len(recs)-1]...) {
		if got := r.header.Get(gowarc.WarcConcurrentTo); got != respID {
			t.Errorf("%s WARC-Concurrent-To = %q, want the response %q", r.kind, got, respID)
		}
	}
	for i, res := range resources {
		r := recs[3+i]
		if ct := r.header.Get(gowarc.ContentType); ct != res.contentType {
			t.Errorf("%s Content-Type = %q, want %q", r.header.Get(gowarc.WarcTargetURI), ct, res.contentType)
		}
		if !bytes.Equal(r.block, res.data) {
			t.Errorf("%s block = %q, want %q", r.header.Get(gowarc.WarcTargetURI), r.block, res.data)
		}
		if d := r.header.Get(gowarc.WarcPayloadDigest); d != sha256Digest(res.data) {
			t.Errorf("%s payload digest %q, want %q", r.header.Get(gowarc.WarcTargetURI), d, sha256Digest(res.data))
		}
	}

	if !bytes.Equal(resp.payload, c.Body) {
		t.Errorf("response payload = %q, want the captured body %q", resp.payload, c.Body)
	}
	if d := resp.header.Get(gowarc.WarcPayloadDigest); d != sha256Digest(c.Body) {
		t.Errorf("payload digest %q, want %q", d, sha256Digest(c.Body))
	}
	if got := resp.header.Get(gowarc.WarcIPAddress); got != c.RemoteIP {
		t.Errorf("WARC-IP-Address = %q, want %q", got, c.RemoteIP)
	}
	if got, want := resp.header.Get(gowarc.WarcTruncated), map[bool]string{true: "length"}[truncated]; got != want {
		t.Errorf("WARC-Truncated = %q, want %q", got, want)
	}
	h := resp.http
	if h == nil {
		t.Fatal("response block has no HTTP header")
	}
	if got := h.Get("Content-Length"); got != strconv.Itoa(len(c.Body)) {
		t.Errorf("stored Content-Length = %q, want %d", got, len(c.Body))
	}
	if got := h.Values("Transfer-Encoding"); len(got) != 0 {
		t.Errorf("stored Transfer-Encoding = %q, want none", got)
	}
	if got := h.Get(headerOrigContentLength); got != origLength {
		t.Errorf("%s = %q, want %q", headerOrigContentLength, got, origLength)
	}
	if got := h.Get(headerOrigTransferEncoding); got != origTE {
		t.Errorf("%s = %q, want %q", headerOrigTransferEncoding, got, origTE)
	}
	if got := h.Values("Set-Cookie"); len(got) != 2 {
		t.Errorf("Set-Cookie = %q, want both values", got)
	}
	if line := string(resp.block[:bytes.IndexByte(resp.block, '\r')]); line != "HTTP/1.1 "+strconv.Itoa(c.Status)+" "+http.StatusText(c.Status) {
		t.Errorf("status line = %q", line)
	}

	reqLine, _, _ := strings.Cut(string(req.block), "\r\n")
	wantPath := "/item/42?ref=a%20b"
	if c.FinalURL == "" {
		wantPath = "/item?id=42"
	}
	if reqLine != "GET "+wantPath+" HTTP/1.1" {
		t.Errorf("request line = %q", reqLine)
	}
	for _, want := range []string{"\r\nHost: market.example\r\n", "\r\nAccept-Encoding: gzip\r\n", "\r\nUser-Agent: " + c.UserAgent + "\r\n"} {
		if !strings.Contains(string(req.block), want) {
			t.Errorf("request block lacks %q:\n%s", want, req.block)
		}
	}

	wantInfo := []string{"software: wildwatch/1.2.3\r\n", "isPartOf: sweep-1\r\n", "wildwatch-rule-set: default@3\r\n", "format: WARC File Format 1.1\r\n"}
	if c.Mode != "" {
		wantInfo = append(wantInfo, "wildwatch-mode: "+c.Mode+"\r\n")
	}
	if c.Rendered != nil {
		wantInfo = append(wantInfo, "wildwatch-browser: "+c.Rendered.Browser+"\r\n")
	} else if strings.Contains(string(info.block), "wildwatch-browser") {
		t.Errorf("warcinfo of a static capture names a browser:\n%s", info.block)
	}
	for _, want := range wantInfo {
		if !strings.Contains(string(info.block), want) {
			t.Errorf("warcinfo lacks %q:\n%s", want, info.block)
		}
	}

	if ct := meta.header.Get(gowarc.ContentType); ct != "application/json" {
		t.Errorf("metadata Content-Type = %q", ct)
	}
	checkWARCMetadata(t, c, p, meta.block)
}

// checkWARCMetadata checks the metadata record's JSON: the listing, the
// verdict and how the page was fetched, nothing else.
func checkWARCMetadata(t *testing.T, c *wildwatch.Capture, p WARCParams, block []byte) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(block, &members); err != nil {
		t.Fatalf("metadata is not a JSON object: %v\n%s", err, block)
	}
	var names []string
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	wantNames := []string{"listing", "verdict"}
	if c.Mode != "" {
		wantNames = append(wantNames, "mode")
	}
	if c.ModeReason != "" {
		wantNames = append(wantNames, "mode_reason")
	}
	if c.Rendered != nil {
		wantNames = append(wantNames, "rendered")
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("metadata members %q, want %q", names, wantNames)
	}

	var m struct {
		Listing    wildwatch.Listing          `json:"listing"`
		Verdict    wildwatch.Verdict          `json:"verdict"`
		Mode       string                     `json:"mode"`
		ModeReason string                     `json:"mode_reason"`
		Rendered   map[string]json.RawMessage `json:"rendered"`
	}
	if err := json.Unmarshal(block, &m); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if !reflect.DeepEqual(m.Listing, p.Listing) || !reflect.DeepEqual(m.Verdict, p.Verdict) {
		t.Errorf("metadata = %+v, want listing %+v and verdict %+v", m, p.Listing, p.Verdict)
	}
	if m.Mode != c.Mode || m.ModeReason != c.ModeReason {
		t.Errorf("metadata mode %q (%q), want %q (%q)", m.Mode, m.ModeReason, c.Mode, c.ModeReason)
	}
	if c.Rendered == nil {
		return
	}
	for _, name := range []string{"dom", "screenshot", "DOM", "Screenshot"} {
		if _, ok := m.Rendered[name]; ok {
			t.Errorf("metadata rendered has %q; its bytes belong to resource records", name)
		}
	}
	var got wildwatch.Rendering
	raw, _ := json.Marshal(m.Rendered)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := *c.Rendered
	want.DOM, want.Screenshot = nil, nil
	if !got.RenderedAt.Equal(want.RenderedAt) {
		t.Errorf("metadata rendered_at %v, want %v", got.RenderedAt, want.RenderedAt)
	}
	got.RenderedAt, want.RenderedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metadata rendered = %+v, want %+v", got, want)
	}
	if _, ok := m.Rendered["viewport"]; !ok {
		t.Errorf("metadata rendered lacks the viewport: %s", raw)
	}
}

// TestWriteWARCTamper changes one byte of a stored body, DOM or
// screenshot: the reader must notice, or the digests prove nothing.
func TestWriteWARCTamper(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// find returns the bytes of c one of which is changed.
		find func(c *wildwatch.Capture) []byte
	}{
		{"response body", func(c *wildwatch.Capture) []byte { return []byte("unique body marker") }},
		{"rendered DOM", func(c *wildwatch.Capture) []byte { return []byte("<h1>Carved ivory bangle") }},
		{"screenshot", func(c *wildwatch.Capture) []byte { return c.Rendered.Screenshot[16:] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testRendered(testCapture("c1", []byte("<html>one unique body marker</html>")))
			var buf bytes.Buffer
			if err := WriteWARC(&buf, testWARCParams(c)); err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr) // all members
			if err != nil {
				t.Fatal(err)
			}
			if _, err := readWARC(t, plain); err != nil {
				t.Fatalf("the untouched WARC does not read back: %v", err)
			}
			i := bytes.Index(plain, tt.find(c))
			if i < 0 {
				t.Fatalf("%s not found in the WARC", tt.name)
			}
			plain[i+1] ^= 0x20
			_, err = readWARC(t, plain)
			if err == nil {
				t.Fatalf("reading a WARC with a changed %s byte reported no error", tt.name)
			}
			if !strings.Contains(err.Error(), "digest") {
				t.Errorf("error %q does not blame a digest", err)
			}
		})
	}
}

func TestWriteWARCErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(p *WARCParams)
	}{
		{"no capture", func(p *WARCParams) { p.Capture = nil }},
		{"bad url", func(p *WARCParams) { p.Capture.FinalURL = "ftp://x/" }},
		{"relative url", func(p *WARCParams) { p.Capture.FinalURL = "/item/1" }},
		{"no time", func(p *WARCParams) { p.Capture.StartedAt, p.Capture.FetchedAt = time.Time{}, time.Time{} }},
		{"no status", func(p *WARCParams) { p.Capture.Status = 0 }},
	}
	for _, tt := range tests {
		p := testWARCParams(testCapture("c1", []byte("x")))
		tt.edit(&p)
		if err := WriteWARC(io.Discard, p); err == nil {
			t.Errorf("%s: WriteWARC succeeded", tt.name)
		}
	}
}

func TestWARCIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"192.0.2.7", "192.0.2.7", true},
		{"192.0.2.7:443", "192.0.2.7", true},
		{"2001:db8::1", "2001:db8::1", true},
		{"[2001:db8::1]:80", "2001:db8::1", true},
		{"market.example", "", false},
		{"192.0.2.7\r\nX: y", "", false},
	}
	for _, tt := range tests {
		got, err := warcIP(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("warcIP(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestNewRecordID(t *testing.T) {
	t.Parallel()
	v4 := regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := newRecordID()
		if !v4.MatchString(id) || seen[id] {
			t.Fatalf("newRecordID() = %q: not a new version 4 UUID URN", id)
		}
		seen[id] = true
	}
}
