package storage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nlnwa/gowarc/v3"

	"github.com/wildwatch/wildwatch"
)

// A small reader for the WARCs WriteWARC writes (and other well-formed
// WARC 1.0/1.1 files, gzip-compressed per record or not): enough to find a
// record by type and read its header and block. gowarc's reader is not used
// for the reason WriteWARC gives.

// HeaderField is one header line, as written.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// warcRead is one record read by scanWARC.
type warcRead struct {
	header []HeaderField
	block  []byte
}

// get returns the first value of the named WARC header field, compared
// without regard to case; "" when absent.
func (r *warcRead) get(name string) string {
	for _, f := range r.header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// maxWARCHeaderBytes bounds one record's header.
const maxWARCHeaderBytes = 1 << 20

// scanWARC reads the records of a WARC file in order and calls fn with
// each until fn returns false or the file ends.
func scanWARC(r io.Reader, fn func(*warcRead) bool) error {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br) // multistream: one member per record
		if err != nil {
			return fmt.Errorf("reading warc: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	for n := 0; ; n++ {
		line, err := readWARCLine(br)
		for err == nil && line == "" && n > 0 { // blank lines between records
			line, err = readWARCLine(br)
		}
		if err == io.EOF && n > 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading warc record %d: %w", n, err)
		}
		if !strings.HasPrefix(line, "WARC/") {
			return fmt.Errorf("reading warc record %d: version line %q", n, line)
		}
		rec := &warcRead{}
		size := 0
		for {
			line, err := readWARCLine(br)
			if err != nil {
				return fmt.Errorf("reading warc record %d header: %w", n, err)
			}
			if line == "" {
				break
			}
			if size += len(line); size > maxWARCHeaderBytes {
				return fmt.Errorf("reading warc record %d: header larger than %d bytes", n, maxWARCHeaderBytes)
			}
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				return fmt.Errorf("reading warc record %d: header line %q", n, line)
			}
			rec.header = append(rec.header, HeaderField{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
		}
		length, err := strconv.ParseInt(rec.get(gowarc.ContentLength), 10, 64)
		if err != nil || length < 0 {
			return fmt.Errorf("reading warc record %d: Content-Length %q", n, rec.get(gowarc.ContentLength))
		}
		rec.block = make([]byte, length)
		if _, err := io.ReadFull(br, rec.block); err != nil {
			return fmt.Errorf("reading warc record %d block: %w", n, err)
		}
		var end [4]byte
		if _, err := io.ReadFull(br, end[:]); err != nil || string(end[:]) != "\r\n\r\n" {
			return fmt.Errorf("reading warc record %d: no CRLF CRLF after its block", n)
		}
		if !fn(rec) {
			return nil
		}
	}
}

// readWARCLine reads one CRLF- (or LF-) ended line without its ending.
func readWARCLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		if err == io.EOF && line != "" {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// HTTPHead is the start line and header of an HTTP message, as recorded.
type HTTPHead struct {
	// Line is the request line ("GET /item/1 HTTP/1.1") or status line
	// ("HTTP/1.1 200 OK").
	Line   string        `json:"line"`
	Header []HeaderField `json:"header"`
}

// WARCExchange is the HTTP exchange a capture's WARC records: the request
// as sent and the response's status line and header. The response body is
// the evidence itself and is not repeated here.
type WARCExchange struct {
	TargetURI string    `json:"target_uri"`
	Date      time.Time `json:"date"`
	IPAddress string    `json:"ip_address,omitempty"`
	Request   HTTPHead  `json:"request"`
	Response  HTTPHead  `json:"response"`
	// Status is the response status code.
	Status int `json:"status"`
	// ResponseRecord is the type of the record holding the response:
	// "response", or "revisit" for an unchanged capture, whose payload is
	// the one of the record RefersTo (at RefersToTargetURI, RefersToDate).
	ResponseRecord string `json:"response_record"`
	RecordID       string `json:"record_id"`
	PayloadDigest  string `json:"payload_digest"`
	// PayloadLength is the length of the payload the record holds: 0 for a
	// revisit record, which holds none.
	PayloadLength     int64      `json:"payload_length"`
	Truncated         bool       `json:"truncated,omitempty"`
	RefersTo          string     `json:"refers_to,omitempty"`
	RefersToTargetURI string     `json:"refers_to_target_uri,omitempty"`
	RefersToDate      *time.Time `json:"refers_to_date,omitempty"`
}

// ReadWARCExchange reads the HTTP exchange from a capture's WARC: the first
// request record and the first response or revisit record.
func ReadWARCExchange(r io.Reader) (*WARCExchange, error) {
	var x WARCExchange
	var req, resp bool
	var perr error
	err := scanWARC(r, func(rec *warcRead) bool {
		switch t := rec.get(gowarc.WarcType); {
		case t == gowarc.Request.String() && !req:
			req = true
			x.Request, _, perr = parseHTTPHead(rec.block)
		case (t == gowarc.Response.String() || t == gowarc.Revisit.String()) && !resp:
			resp = true
			var n int
			x.Response, n, perr = parseHTTPHead(rec.block)
			x.ResponseRecord = t
			x.TargetURI = rec.get(gowarc.WarcTargetURI)
			x.IPAddress = rec.get(gowarc.WarcIPAddress)
			x.RecordID = strings.Trim(rec.get(gowarc.WarcRecordID), "<>")
			x.PayloadDigest = rec.get(gowarc.WarcPayloadDigest)
			x.Truncated = rec.get(gowarc.WarcTruncated) != ""
			x.Date, _ = time.Parse(time.RFC3339Nano, rec.get(gowarc.WarcDate))
			x.PayloadLength = int64(len(rec.block) - n)
			if t == gowarc.Revisit.String() {
				x.RefersTo = strings.Trim(rec.get(gowarc.WarcRefersTo), "<>")
				x.RefersToTargetURI = rec.get(gowarc.WarcRefersToTargetURI)
				if d, err := time.Parse(time.RFC3339Nano, rec.get(gowarc.WarcRefersToDate)); err == nil {
					x.RefersToDate = &d
				}
			}
		}
		return perr == nil && !(req && resp)
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	if !resp {
		return nil, errors.New("reading warc: no response or revisit record")
	}
	if _, code, ok := strings.Cut(x.Response.Line, " "); ok {
		code, _, _ = strings.Cut(code, " ")
		x.Status, _ = strconv.Atoi(code)
	}
	return &x, nil
}

// parseHTTPHead reads the start line and header of an HTTP message block
// and returns how many bytes they take with the blank line after them.
func parseHTTPHead(block []byte) (HTTPHead, int, error) {
	end := bytes.Index(block, warcCRLFCRLF)
	if end < 0 {
		return HTTPHead{}, 0, errors.New("http block without end of header")
	}
	lines := strings.Split(string(block[:end]), "\r\n")
	h := HTTPHead{Line: lines[0], Header: []HeaderField{}}
	for _, l := range lines[1:] {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(h.Header) > 0 {
			h.Header[len(h.Header)-1].Value += " " + strings.TrimSpace(l) // obsolete line folding
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return HTTPHead{}, 0, fmt.Errorf("http header line %q", l)
		}
		h.Header = append(h.Header, HeaderField{Name: name, Value: strings.TrimSpace(value)})
	}
	return h, end + len(warcCRLFCRLF), nil
}

// ReadCaptureExchange reads the HTTP exchange of the capture whose WARC is
// at warcKey in store.
func ReadCaptureExchange(ctx context.Context, store wildwatch.EvidenceStore, warcKey string) (*WARCExchange, error) {
	rc, _, err := store.Get(ctx, warcKey)
	if err != nil {
		return nil, fmt.Errorf("reading exchange of %s: %w", warcKey, err)
	}
	defer rc.Close()
	x, err := ReadWARCExchange(rc)
	if err != nil {
		return nil, fmt.Errorf("reading exchange of %s: %w", warcKey, err)
	}
	return x, nil
}

// ReadCaptureManifest reads and parses the manifest at key, without
// checking it (VerifyCapture does).
func ReadCaptureManifest(ctx context.Context, store wildwatch.EvidenceStore, key string) (*Manifest, error) {
	return readManifest(ctx, store, key)
}
