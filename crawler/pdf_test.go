package crawler

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// pdfPNG is a 2×2 PNG for an image inlined as a data: URL.
var pdfPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x02\b\x06\x00\x00\x00r\xb6\r$" +
	"\x00\x00\x00\x18IDATx\x9cb:\xb1\xa5\xe2?\x03\f\x88h\xd8\xfc\a\x04\x00\x00\xff\xff/\xf7\x04m" +
	"\r_\x8d\xa1\x00\x00\x00\x00IEND\xaeB`\x82")

// pdfDocument is a report of n sections, each with a heading, a paragraph
// and an inlined image; extra goes into the body as it is.
func pdfDocument(title string, n int, extra string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html><head><meta charset=utf-8><title>%s</title>"+
		"<style>section{height:300px;border-bottom:1px solid #888}</style></head><body>", title)
	img := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pdfPNG)
	for i := range n {
		fmt.Fprintf(&b, "<section><h2>Item %d</h2><p>Carved ivory bangle, seller s%d</p><img src=%q width=40></section>", i+1, i, img)
	}
	b.WriteString(extra)
	b.WriteString("</body></html>")
	return []byte(b.String())
}

var pdfPageObject = regexp.MustCompile(`/Type\s*/Page\b`)

// pdfStreams returns the PDF's bytes with every Flate stream it could
// inflate appended, so that text kept in compressed object streams can be
// looked for.
func pdfStreams(pdf []byte) []byte {
	out := bytes.Clone(pdf)
	for rest := pdf; ; {
		i := bytes.Index(rest, []byte("stream"))
		if i < 0 {
			return out
		}
		rest = rest[i+len("stream"):]
		rest = bytes.TrimLeft(rest, "\r\n")
		if r, err := zlib.NewReader(bytes.NewReader(rest)); err == nil {
			b, _ := io.ReadAll(r)
			out = append(out, b...)
		}
	}
}

// pdfPages counts the page objects of a PDF, in its bytes or its object
// streams.
func pdfPages(pdf []byte) int {
	return len(pdfPageObject.FindAll(pdfStreams(pdf), -1))
}

func TestPrintPDF(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	// A server whose address the guard would let through: the document's
	// reference to it must be refused by the print itself.
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pdfPNG)
	}))
	u, _ := url.Parse(srv.URL)
	shared.public.Store(netip.MustParseAddrPort(u.Host), true)

	short, err := b.PrintPDF(t.Context(), pdfDocument("Case 7", 1, ""))
	if err != nil {
		t.Fatalf("PrintPDF: %v", err)
	}
	external := fmt.Sprintf(`<img src="%s/tracker.png"><link rel=stylesheet href="%s/style.css">`, srv.URL, srv.URL)
	long, err := b.PrintPDF(t.Context(), pdfDocument("Case 8", 12, external))
	if err != nil {
		t.Fatalf("PrintPDF: %v", err)
	}
	for _, pdf := range [][]byte{short, long} {
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf[max(0, len(pdf)-64):], []byte("%%EOF")) {
			t.Fatalf("not a PDF: %q…", pdf[:min(len(pdf), 32)])
		}
	}
	// Twelve sections of 300px do not fit on one A4 page; one does.
	if n := pdfPages(short); n != 1 {
		t.Errorf("one-section document printed on %d pages, want 1", n)
	}
	if n := pdfPages(long); n < 3 {
		t.Errorf("twelve-section document printed on %d pages, want at least 3", n)
	}
	if p := srv.paths(); len(p) > 0 {
		t.Errorf("the printed document reached the network: %q", p)
	}
	// The tab is reusable afterwards.
	again, err := b.PrintPDF(t.Context(), pdfDocument("Case 9", 1, ""))
	if err != nil || !bytes.HasPrefix(again, []byte("%PDF-")) {
		t.Fatalf("PrintPDF after printing: %v", err)
	}
}
