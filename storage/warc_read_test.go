package storage

import (
	"bytes"
	"compress/gzip"
	"io"
	"reflect"
	"strconv"
	"testing"
)

// TestReadWARCExchange reads the HTTP exchange back from a WARC, gzipped
// per record or not, and refuses what is not a whole WARC.
func TestReadWARCExchange(t *testing.T) {
	t.Parallel()
	c := testCapture("c1", []byte("<html>ivory</html>"))
	var buf bytes.Buffer
	if err := WriteWARC(&buf, testWARCParams(c)); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var first *WARCExchange
	for name, data := range map[string][]byte{"gzip": buf.Bytes(), "plain": plain} {
		x, err := ReadWARCExchange(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if x.ResponseRecord != "response" || x.Status != 200 || x.Response.Line != "HTTP/1.1 200 OK" ||
			x.Request.Line != "GET /item/42?ref=a%20b HTTP/1.1" || x.TargetURI != c.FinalURL || x.IPAddress != "192.0.2.7" ||
			x.PayloadLength != int64(len(c.Body)) || x.PayloadDigest != sha256Digest(c.Body) || x.RefersTo != "" ||
			!x.Date.Equal(c.FetchedAt) || x.Truncated {
			t.Errorf("%s: exchange %+v", name, x)
		}
		want := []HeaderField{
			{"Content-Length", strconv.Itoa(len(c.Body))},
			{"Content-Type", "text/html; charset=utf-8"},
			{"Set-Cookie", "a=1"},
			{"Set-Cookie", "b=2"},
			{headerOrigContentLength, "999"},
		}
		if !reflect.DeepEqual(x.Response.Header, want) {
			t.Errorf("%s: response header %+v, want %+v", name, x.Response.Header, want)
		}
		if first == nil {
			first = x
		} else if !reflect.DeepEqual(first, x) {
			t.Errorf("gzip and plain WARCs read differently:\n%+v\n%+v", first, x)
		}
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"truncated":   buf.Bytes()[:len(buf.Bytes())/2],
		"not a WARC":  []byte("HTTP/1.1 200 OK\r\n\r\n"),
		"no response": plain[:bytes.Index(plain, []byte("WARC/1.1\r\nWARC-Type: response"))],
	} {
		if x, err := ReadWARCExchange(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: read %+v", name, x)
		}
	}
}
