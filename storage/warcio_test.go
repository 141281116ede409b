package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/warciotest"
)

// TestWARCReadByWarcio reads WARCs with webrecorder's warcio.js, an
// independent implementation, installed from npm into the user cache
// directory on first use.
func TestWARCReadByWarcio(t *testing.T) {
	t.Parallel()
	module := installWarcio(t)
	tests := []struct {
		name     string
		rendered bool
	}{
		{"static", false},
		{"rendered", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testCapture("c1", []byte("<html>\x00\x01 bangle</html>"))
			c.Header.Set("Transfer-Encoding", "chunked")
			c.Header.Set("Content-Encoding", "identity")
			if tt.rendered {
				testRendered(c)
			}
			checkWarcio(t, module, c)
		})
	}
}

// checkWarcio writes c's WARC, reads it with warcio and checks what warcio
// saw.
func checkWarcio(t *testing.T, module string, c *wildwatch.Capture) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteWARC(&buf, testWARCParams(c)); err != nil {
		t.Fatal(err)
	}
	warcPath := filepath.Join(t.TempDir(), "c1.warc.gz")
	if err := os.WriteFile(warcPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	recs := warciotest.Read(t, module, warcPath)
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Type)
	}
	want := []string{"warcinfo", "request", "response", "metadata"}
	if c.Rendered != nil {
		want = []string{"warcinfo", "request", "response", "resource", "resource", "metadata"}
	}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("warcio read record types %q, want %q", kinds, want)
	}
	req, resp, meta := recs[1], recs[2], recs[len(recs)-1]
	if resp.Target != c.FinalURL || req.Target != c.FinalURL || meta.Target != c.FinalURL {
		t.Errorf("target URIs = %q, %q, %q; want %q", req.Target, resp.Target, meta.Target, c.FinalURL)
	}
	if resp.Status != c.Status {
		t.Errorf("warcio read status %d, want %d", resp.Status, c.Status)
	}
	if want := sha256Digest(c.Body); resp.PayloadSHA256 != want || resp.PayloadDigest != want {
		t.Errorf("warcio payload %s, header %s; want %s (the captured body)", resp.PayloadSHA256, resp.PayloadDigest, want)
	}
	for _, r := range append([]warciotest.Record{req, meta}, recs[3:len(recs)-1]...) {
		if r.ConcurrentTo != resp.ID {
			t.Errorf("%s %s concurrent to %q, want %q", r.Type, r.Target, r.ConcurrentTo, resp.ID)
		}
	}
	if meta.PayloadSHA256 != meta.BlockDigest {
		t.Errorf("metadata block digest %s, warcio read %s", meta.BlockDigest, meta.PayloadSHA256)
	}
	if c.Rendered == nil {
		return
	}
	for i, res := range []struct {
		uri  string
		data []byte
	}{
		{"urn:wildwatch:dom:" + c.FinalURL, c.Rendered.DOM},
		{"urn:wildwatch:screenshot:" + c.FinalURL, c.Rendered.Screenshot},
	} {
		r := recs[3+i]
		if r.Target != res.uri {
			t.Errorf("resource %d target %q, want %q", i, r.Target, res.uri)
		}
		want := sha256Digest(res.data)
		if r.PayloadSHA256 != want || r.PayloadDigest != want || r.BlockDigest != want {
			t.Errorf("%s: warcio read payload %s, headers say payload %s, block %s; want %s", res.uri, r.PayloadSHA256, r.PayloadDigest, r.BlockDigest, want)
		}
	}
}

// installWarcio returns the path of warcio's ES module entry point,
// installing it on first use (warciotest.Install).
func installWarcio(t *testing.T) string {
	t.Helper()
	return warciotest.Install(t)
}
