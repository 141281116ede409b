package storage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// cdxEntry is one line of a CDXJ index: the SURT form of the URL, the
// 14-digit timestamp and the JSON block.
type cdxEntry struct {
	key       string
	timestamp string
	fields    cdxFields
}

// cdxFields is the JSON block of a CDXJ line, as pywb and warcio.js write
// it: status, length and offset are strings, and absent values are left
// out.
type cdxFields struct {
	URL      string `json:"url"`
	MIME     string `json:"mime,omitempty"`
	Status   string `json:"status,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Length   string `json:"length"`
	Offset   string `json:"offset"`
	Filename string `json:"filename"`
}

// line returns the entry as a CDXJ line with its newline.
func (e cdxEntry) line() ([]byte, error) {
	b, err := json.Marshal(e.fields)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(e.key)+len(e.timestamp)+len(b)+3)
	out = append(out, e.key...)
	out = append(out, ' ')
	out = append(out, e.timestamp...)
	out = append(out, ' ')
	out = append(out, b...)
	return append(out, '\n'), nil
}

// cdxIndex is the CDXJ lines of a bundle's WARCs.
type cdxIndex struct {
	lines [][]byte
}

// bytes returns the index sorted bytewise, as CDXJ readers binary-search
// it.
func (x *cdxIndex) bytes() []byte {
	slices.SortFunc(x.lines, bytes.Compare)
	return bytes.Join(x.lines, nil)
}

// countingReader counts the bytes read through it. It is an
// io.ByteReader, so compress/gzip reads from it directly and consumes
// exactly one member at a time, which makes the count the member's end.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// maxWARCHeader bounds a record's WARC header and the HTTP header the
// indexer reads from its block.
const maxWARCHeader = 1 << 20

// indexWARC reads a gzip WARC, one record per gzip member, to its end and
// adds a CDXJ entry for each response, revisit and resource record:
// offset and length are those of the record's gzip member in the file.
// Request, warcinfo and metadata records are not pages and are left out.
func (x *cdxIndex) indexWARC(r io.Reader, filename string) error {
	cr := &countingReader{r: bufio.NewReaderSize(r, 64<<10)}
	var zr *gzip.Reader
	block := bufio.NewReaderSize(nil, 16<<10)
	for {
		if _, err := cr.r.Peek(1); err == io.EOF {
			return nil
		}
		start := cr.n
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(cr)
		} else {
			err = zr.Reset(cr)
		}
		if err != nil {
			return fmt.Errorf("%s: gzip member at offset %d: %w", filename, start, err)
		}
		zr.Multistream(false)
		block.Reset(io.LimitReader(zr, maxWARCHeader))
		e, err := readCDXEntry(block)
		if err != nil {
			return fmt.Errorf("%s: record at offset %d: %w", filename, start, err)
		}
		// The rest of the record, then the member's trailer.
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return fmt.Errorf("%s: record at offset %d: %w", filename, start, err)
		}
		if e == nil {
			continue
		}
		e.fields.Offset = strconv.FormatInt(start, 10)
		e.fields.Length = strconv.FormatInt(cr.n-start, 10)
		e.fields.Filename = filename
		line, err := e.line()
		if err != nil {
			return err
		}
		x.lines = append(x.lines, line)
	}
}

// readCDXEntry reads a record's WARC header, and for a response or
// revisit its HTTP header, and returns its entry without offset, length
// and filename; nil for a record that is not indexed.
func readCDXEntry(r *bufio.Reader) (*cdxEntry, error) {
	tp := textproto.NewReader(r)
	version, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("reading the version line: %w", err)
	}
	if !strings.HasPrefix(version, "WARC/") {
		return nil, fmt.Errorf("not a WARC record: %.40q", version)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("reading the WARC header: %w", err)
	}
	kind := h.Get("WARC-Type")
	if kind != "response" && kind != "revisit" && kind != "resource" {
		return nil, nil
	}
	target := h.Get("WARC-Target-URI")
	date := h.Get("WARC-Date")
	if target == "" || date == "" {
		return nil, fmt.Errorf("%s record without WARC-Target-URI or WARC-Date", kind)
	}
	e := &cdxEntry{
		key:       surt(target),
		timestamp: cdxTimestamp(date),
		fields:    cdxFields{URL: target, Digest: h.Get("WARC-Payload-Digest")},
	}
	switch kind {
	case "resource":
		e.fields.MIME = h.Get("Content-Type")
		return e, nil
	case "revisit":
		e.fields.MIME = "warc/revisit"
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "application/http") {
		return e, nil
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		if kind == "revisit" && errors.Is(err, io.EOF) {
			return e, nil // a revisit may carry no HTTP header at all
		}
		return nil, fmt.Errorf("reading the HTTP header: %w", err)
	}
	e.fields.Status = strconv.Itoa(resp.StatusCode)
	if kind == "response" {
		if mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) != "" {
			e.fields.MIME = strings.TrimSpace(mt)
		}
	}
	return e, nil
}

// cdxTimestamp turns a WARC-Date into the 14 digits YYYYMMDDhhmmss.
func cdxTimestamp(date string) string {
	digits := strings.NewReplacer("-", "", ":", "", "T", "").Replace(date)
	return digits[:min(14, len(digits))]
}

var leadingWWW = regexp.MustCompile(`^(https?://)www\d*\.`)

// surt returns the sort-friendly form of a URL that CDXJ indexes are keyed
// by, as pywb and warcio.js compute it: lower case, a leading "www." (or
// "www2." …) dropped, the host's labels reversed and joined by commas, a
// port other than the scheme's default kept after a colon, then ")", the
// path and the query with its parameters sorted. Other URIs (urn:…) are
// kept as they are.
func surt(raw string) string {
	if !strings.HasPrefix(raw, "http:") && !strings.HasPrefix(raw, "https:") {
		return raw
	}
	s := strings.ToLower(leadingWWW.ReplaceAllString(raw, "$1"))
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return raw
	}
	labels := strings.Split(u.Hostname(), ".")
	slices.Reverse(labels)
	var b strings.Builder
	b.WriteString(strings.Join(labels, ","))
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80") && !(u.Scheme == "https" && p == "443") {
		b.WriteString(":" + p)
	}
	b.WriteString(")")
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		slices.Sort(params)
		b.WriteString("?" + strings.Join(params, "&"))
	}
	return b.String()
}
