package crawler

import (
	"bytes"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/saintfish/chardet"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// DecodeText decodes body to UTF-8 and names the charset it was read as
// ("utf-8", "gbk", "shift_jis", "windows-1252", …). The charset is taken,
// in order, from a byte order mark, the charset parameter of contentType, a
// <meta charset> or <meta http-equiv="Content-Type"> in the first 1024
// bytes, and finally sniffed: valid UTF-8 is UTF-8, otherwise a statistical
// detector picks among the legacy charsets, falling back to windows-1252
// (which is what browsers read ISO-8859-1 as). Bytes that are invalid in
// the charset become U+FFFD.
func DecodeText(body []byte, contentType string) (text string, charsetName string) {
	enc, name := determineCharset(body, contentType)
	if name == "utf-8" {
		return strings.ToValidUTF8(string(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))), "\uFFFD"), name
	}
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return strings.ToValidUTF8(string(body), "\uFFFD"), "utf-8"
	}
	return strings.TrimPrefix(string(out), "\uFEFF"), name
}

func determineCharset(body []byte, contentType string) (encoding.Encoding, string) {
	// A BOM or a charset the server declared settle it.
	if e, name, certain := charset.DetermineEncoding(body, contentType); certain {
		return e, name
	}
	head := body[:min(len(body), 1024)]
	if e, name := metaCharset(head); e != nil {
		return e, name
	}
	if validUTF8(body) {
		e, name := charset.Lookup("utf-8")
		return e, name
	}
	sample := body[:min(len(body), 64<<10)]
	if r, err := chardet.NewHtmlDetector().DetectBest(sample); err == nil && r.Confidence >= 30 {
		if e, name := charset.Lookup(chardetLabel(r.Charset)); e != nil {
			return e, name
		}
	}
	e, name := charset.Lookup("windows-1252")
	return e, name
}

// validUTF8 reports whether body is UTF-8, allowing a rune cut off at the
// end by the body limit.
func validUTF8(body []byte) bool {
	for i := len(body) - 1; i >= 0 && i >= len(body)-3; i-- {
		if utf8.RuneStart(body[i]) {
			if !utf8.FullRune(body[i:]) {
				body = body[:i]
			}
			break
		}
	}
	return utf8.Valid(body)
}

// metaCharset looks for a charset declared in <meta> elements of head, the
// way browsers prescan a document: <meta charset="…"> or
// <meta http-equiv="Content-Type" content="…; charset=…">.
func metaCharset(head []byte) (encoding.Encoding, string) {
	z := html.NewTokenizer(bytes.NewReader(head))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return nil, ""
		case html.StartTagToken, html.SelfClosingTagToken:
			if e, name := metaTagCharset(z); e != nil {
				return e, name
			}
		}
	}
}

// metaTagCharset reads the charset a <meta> tag declares, if the tokenizer
// z is on one.
func metaTagCharset(z *html.Tokenizer) (encoding.Encoding, string) {
	tag, hasAttr := z.TagName()
	if string(tag) != "meta" || !hasAttr {
		return nil, ""
	}
	var label, httpEquiv, content string
	for more := true; more; {
		var key, val []byte
		key, val, more = z.TagAttr()
		switch strings.ToLower(string(key)) {
		case "charset":
			label = string(val)
		case "http-equiv":
			httpEquiv = string(val)
		case "content":
			content = string(val)
		}
	}
	if label == "" && strings.EqualFold(strings.TrimSpace(httpEquiv), "content-type") {
		label = contentCharset(content)
	}
	if label == "" {
		return nil, ""
	}
	e, name := charset.Lookup(label)
	if e == nil {
		return nil, ""
	}
	// A document cannot declare itself UTF-16 in ASCII-compatible bytes;
	// browsers read it as UTF-8.
	if strings.HasPrefix(name, "utf-16") {
		e, name = charset.Lookup("utf-8")
	}
	return e, name
}

// contentCharset reads the charset parameter of a Content-Type value,
// tolerating the loose forms found in meta elements.
func contentCharset(v string) string {
	if _, params, err := mime.ParseMediaType(v); err == nil && params["charset"] != "" {
		return params["charset"]
	}
	i := strings.Index(strings.ToLower(v), "charset")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(v[i+len("charset"):], " \t")
	if !strings.HasPrefix(rest, "=") {
		return ""
	}
	rest = strings.Trim(strings.TrimLeft(rest[1:], " \t"), `"' `)
	if j := strings.IndexAny(rest, `;"' `); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// isText reports whether a body of this content type is worth decoding as
// text: HTML, XML, JSON, any text/*, or an undeclared type.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return strings.TrimSpace(contentType) == "" || strings.Contains(strings.ToLower(contentType), "text")
	}
	return strings.HasPrefix(mt, "text/") || strings.Contains(mt, "html") || strings.Contains(mt, "xml") ||
		strings.Contains(mt, "json") || strings.Contains(mt, "javascript")
}

// chardetLabel maps the names chardet reports to WHATWG encoding labels.
func chardetLabel(name string) string {
	if name == "GB-18030" {
		return "gb18030"
	}
	return name
}
