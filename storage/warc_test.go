package storage

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
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
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.kind)
	}
	if want := []string{"warcinfo", "request", "response", "metadata"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("record types = %q, want %q", kinds, want)
	}
	info, req, resp, meta := recs[0], recs[1], recs[2], recs[3]
	target := c.FinalURL
	if target == "" {
		target = c.URL
	}
	wantDate := c.FetchedAt.UTC().Format(time.RFC3339Nano)
	ids := map[string]bool{}
	for _, r := range recs {
		if d := r.header.Get(gowarc.WarcDate); d != wantDate {
			t.Errorf("%s WARC-Date = %q, want %q", r.kind, d, wantDate)
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
			if got := r.header.Get(gowarc.WarcTargetURI); got != target {
				t.Errorf("%s WARC-Target-URI = %q, want %q", r.kind, got, target)
			}
			if got := r.header.Get(gowarc.WarcWarcinfoID); got != info.header.Get(gowarc.WarcRecordID) {
				t.Errorf("%s WARC-Warcinfo-ID = %q", r.kind, got)
			}
		}
	}
	respID := resp.header.Get(gowarc.WarcRecordID)
	for _, r := range []warcRecord{req, meta} {
		if got := r.header.Get(gowarc.WarcConcurrentTo); got != respID {
			t.Errorf("%s WARC-Concurrent-To = %q, want the response %q", r.kind, got, respID)
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

	for _, want := range []string{"software: wildwatch/1.2.3\r\n", "isPartOf: sweep-1\r\n", "wildwatch-rule-set: default@3\r\n", "format: WARC File Format 1.1\r\n"} {
		if !strings.Contains(string(info.block), want) {
			t.Errorf("warcinfo lacks %q:\n%s", want, info.block)
		}
	}

	if ct := meta.header.Get(gowarc.ContentType); ct != "application/json" {
		t.Errorf("metadata Content-Type = %q", ct)
	}
	var m struct {
		Listing wildwatch.Listing `json:"listing"`
		Verdict wildwatch.Verdict `json:"verdict"`
	}
	if err := json.Unmarshal(meta.block, &m); err != nil {
		t.Fatalf("metadata is not JSON: %v", err)
	}
	if !reflect.DeepEqual(m.Listing, p.Listing) || !reflect.DeepEqual(m.Verdict, p.Verdict) {
		t.Errorf("metadata = %+v, want listing %+v and verdict %+v", m, p.Listing, p.Verdict)
	}
}

// TestWriteWARCTamper changes one byte of the stored body: the reader must
// notice, or the digests prove nothing.
func TestWriteWARCTamper(t *testing.T) {
	t.Parallel()
	c := testCapture("c1", []byte("<html>one unique body marker</html>"))
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
	i := bytes.Index(plain, []byte("unique body marker"))
	if i < 0 {
		t.Fatal("body not found in the WARC")
	}
	plain[i] ^= 0x20
	_, err = readWARC(t, plain)
	if err == nil {
		t.Fatal("reading a WARC with a changed body byte reported no error")
	}
	if !strings.Contains(err.Error(), "digest") {
		t.Errorf("error %q does not blame a digest", err)
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

// warcioVersion is the webrecorder warcio.js release TestWARCReadByWarcio
// reads our WARCs with.
const warcioVersion = "2.4.11"

// warcioScript prints one JSON line per record of the WARC named by
// argv[3], read with the warcio module at the file URL argv[2].
const warcioScript = `
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
const { WARCParser } = await import(process.argv[2]);
const parser = new WARCParser(createReadStream(process.argv[3]));
for await (const record of parser) {
  const payload = await record.readFully(false);
  console.log(JSON.stringify({
    type: record.warcType,
    target: record.warcTargetURI ?? "",
    id: record.warcHeader("WARC-Record-ID"),
    concurrentTo: (record.warcConcurrentTo ?? []).join(" "),
    payloadDigest: record.warcPayloadDigest ?? "",
    blockDigest: record.warcBlockDigest ?? "",
    status: record.httpHeaders ? Number(record.httpHeaders.statusCode ?? 0) : 0,
    payloadSHA256: "sha256:" + createHash("sha256").update(payload).digest("hex"),
  }));
}
`

// TestWARCReadByWarcio reads a WARC with webrecorder's warcio.js, an
// independent implementation, installed from npm into the user cache
// directory on first use.
func TestWARCReadByWarcio(t *testing.T) {
	t.Parallel()
	module := installWarcio(t)

	c := testCapture("c1", []byte("<html>\x00\x01 bangle</html>"))
	c.Header.Set("Transfer-Encoding", "chunked")
	c.Header.Set("Content-Encoding", "identity")
	var buf bytes.Buffer
	if err := WriteWARC(&buf, testWARCParams(c)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	warcPath := filepath.Join(dir, "c1.warc.gz")
	scriptPath := filepath.Join(dir, "read.mjs")
	if err := os.WriteFile(warcPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scriptPath, []byte(warcioScript), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", scriptPath, (&url.URL{Scheme: "file", Path: module}).String(), warcPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Errorf("warcio complained:\n%s", stderr.Bytes())
	}

	type record struct {
		Type, Target, ID, ConcurrentTo, PayloadDigest, BlockDigest, PayloadSHA256 string
		Status                                                                    int
	}
	var recs []record
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("script output %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Type)
	}
	if want := []string{"warcinfo", "request", "response", "metadata"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("warcio read record types %q, want %q", kinds, want)
	}
	resp := recs[2]
	if resp.Target != c.FinalURL || recs[1].Target != c.FinalURL || recs[3].Target != c.FinalURL {
		t.Errorf("target URIs = %q, %q, %q; want %q", recs[1].Target, resp.Target, recs[3].Target, c.FinalURL)
	}
	if resp.Status != c.Status {
		t.Errorf("warcio read status %d, want %d", resp.Status, c.Status)
	}
	if want := sha256Digest(c.Body); resp.PayloadSHA256 != want || resp.PayloadDigest != want {
		t.Errorf("warcio payload %s, header %s; want %s (the captured body)", resp.PayloadSHA256, resp.PayloadDigest, want)
	}
	for _, r := range []record{recs[1], recs[3]} {
		if r.ConcurrentTo != resp.ID {
			t.Errorf("%s concurrent to %q, want %q", r.Type, r.ConcurrentTo, resp.ID)
		}
	}
	if meta := recs[3]; meta.PayloadSHA256 != meta.BlockDigest {
		t.Errorf("metadata block digest %s, warcio read %s", meta.BlockDigest, meta.PayloadSHA256)
	}
}

// installWarcio returns the path of warcio's ES module entry point,
// installing the package with npm into <user cache>/wildwatch-test on first
// use. It installs into a fresh directory and renames it into place, so
// concurrent test runs never see half an install.
func installWarcio(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for warcio: %v", err)
	}
	dir := filepath.Join(cache, "wildwatch-test", "warcio-"+warcioVersion)
	entry := filepath.Join(dir, "node_modules", "warcio", "dist", "index.js")
	if _, err := os.Stat(entry); err == nil {
		return entry
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to check WARCs with warcio: %v", tool, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", tmp, "warcio@"+warcioVersion)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install warcio@%s: %v\n%s", warcioVersion, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(entry); serr != nil { // not installed meanwhile by another run
			t.Fatalf("installing warcio: %v", err)
		}
	}
	return entry
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
