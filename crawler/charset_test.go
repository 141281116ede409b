package crawler

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// Texts the charset fixtures are made of. Each fixture in testdata/charset
// is page(meta, text) encoded in a legacy charset; -update rewrites them.
const (
	zhHans = "出售象牙手镯，天然老料，保真。穿山甲鳞片，犀牛角杯，虎骨酒，玳瑁梳子。价格面议，可包邮，欢迎私聊。"
	zhHant = "出售象牙手鐲，天然老料，保真。穿山甲鱗片，犀牛角杯，虎骨酒，玳瑁梳子。價格面議，歡迎私訊。"
	ja     = "象牙の印鑑、本象牙、未使用品です。べっ甲のかんざし、サイの角の置物もあります。送料無料、即日発送いたします。"
	latin1 = "Elfenbein-Schnitzerei, schöne Qualität, Größe 12 cm, Händler aus Köln. Prix négociable, très rare."
	cp1252 = "Antique “ivory” netsuke – €450, très rare, signé. Hawksbill ‘tortoiseshell’ comb… ask for photos."
)

func page(meta, text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n<head>\n")
	if meta != "" {
		b.WriteString(meta + "\n")
	}
	b.WriteString("<title>listing</title>\n</head>\n<body>\n")
	// Enough text for the sniffing cases to have something to go on.
	for range 4 {
		b.WriteString("<p>" + text + "</p>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.String()
}

var charsetCases = []struct {
	file        string
	enc         encoding.Encoding
	bom         bool
	contentType string
	html        string
	want        string // charset DecodeText should name
	marker      []byte // bytes the encoded file must hold (from iconv)
}{
	{"utf8-meta.html", unicode.UTF8, false, "text/html", page(`<meta charset="utf-8">`, zhHans), "utf-8", []byte("象牙")},
	{"utf8-sniff.html", unicode.UTF8, false, "text/html", strings.Repeat("<!-- ascii padding -->\n", 60) + page("", zhHans), "utf-8", []byte("象牙")},
	{"utf8-bom.html", unicode.UTF8, true, "text/html; charset=windows-1252", page("", ja), "utf-8", []byte("象牙")},
	{"gbk-header.html", simplifiedchinese.GBK, false, "text/html; charset=GBK", page("", zhHans), "gbk", []byte{0xcf, 0xf3, 0xd1, 0xc0}},
	{"gbk-meta-gb2312.html", simplifiedchinese.GBK, false, "text/html", page(`<meta http-equiv="Content-Type" content="text/html; charset=gb2312">`, zhHans), "gbk", []byte{0xcf, 0xf3, 0xd1, 0xc0}},
	{"gbk-sniff.html", simplifiedchinese.GBK, false, "text/html", page("", zhHans), "gb18030", []byte{0xcf, 0xf3, 0xd1, 0xc0}},
	{"gb18030-meta.html", simplifiedchinese.GB18030, false, "", page(`<meta charset="gb18030">`, zhHans+"𠮷"), "gb18030", []byte{0xcf, 0xf3, 0xd1, 0xc0}},
	{"big5-meta.html", traditionalchinese.Big5, false, "text/html", page(`<META HTTP-EQUIV="content-type" CONTENT="text/html;charset=big5">`, zhHant), "big5", []byte{0xb6, 0x48, 0xa4, 0xfa}},
	{"big5-sniff.html", traditionalchinese.Big5, false, "text/html", page("", zhHant), "big5", []byte{0xb6, 0x48, 0xa4, 0xfa}},
	{"shift_jis-header.html", japanese.ShiftJIS, false, "text/html; charset=Shift_JIS", page(`<meta charset="utf-8">`, ja), "shift_jis", []byte{0x8f, 0xdb, 0x89, 0xe5}},
	{"shift_jis-sniff.html", japanese.ShiftJIS, false, "text/html", page("", ja), "shift_jis", []byte{0x8f, 0xdb, 0x89, 0xe5}},
	{"euc-jp-meta.html", japanese.EUCJP, false, "text/html", page(`<meta charset='euc-jp'>`, ja), "euc-jp", []byte{0xbe, 0xdd, 0xb2, 0xe7}},
	{"euc-jp-sniff.html", japanese.EUCJP, false, "text/html", page("", ja), "euc-jp", []byte{0xbe, 0xdd, 0xb2, 0xe7}},
	{"windows-1252-meta.html", charmap.Windows1252, false, "text/html", page(`<meta charset="windows-1252">`, cp1252), "windows-1252", []byte{0x96, 0x20, 0x80}},
	{"windows-1252-sniff.html", charmap.Windows1252, false, "text/html", page("", cp1252), "windows-1252", []byte{0x96, 0x20, 0x80}},
	{"iso-8859-1-header.html", charmap.ISO8859_1, false, "text/html; charset=ISO-8859-1", page("", latin1), "windows-1252", []byte{'s', 'c', 'h', 0xf6, 'n', 'e'}},
}

func TestDecodeText(t *testing.T) {
	t.Parallel()
	for _, tt := range charsetCases {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "charset", tt.file)
			if *update {
				b, err := tt.enc.NewEncoder().Bytes([]byte(tt.html))
				if err != nil {
					t.Fatalf("encoding fixture: %v", err)
				}
				if tt.bom {
					b = append([]byte("\xef\xbb\xbf"), b...)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Contains(body, tt.marker) {
				t.Fatalf("fixture %s does not hold % x: not in the charset it claims", path, tt.marker)
			}
			text, cs := DecodeText(body, tt.contentType)
			if cs != tt.want {
				t.Errorf("charset = %q, want %q", cs, tt.want)
			}
			if text != tt.html {
				t.Errorf("text differs from the UTF-8 source:\n got %q\nwant %q", firstDiff(text, tt.html), firstDiff(tt.html, text))
			}
		})
	}
}

// firstDiff returns a's text around its first difference from b.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(0, i-20), min(len(a), i+40)
	return a[lo:hi]
}

func TestContentCharset(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"text/html; charset=gbk":          "gbk",
		`text/html; charset="Big5"`:       "Big5",
		"text/html;charset=shift_jis":     "shift_jis",
		"text/html; charset = euc-jp;x=1": "euc-jp",
		"text/html":                       "",
		"charset='windows-1252'":          "windows-1252",
	}
	for in, want := range tests {
		if got := contentCharset(in); got != want {
			t.Errorf("contentCharset(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidUTF8CutRune(t *testing.T) {
	t.Parallel()
	b := []byte("price 象牙")
	if !validUTF8(b[:len(b)-1]) {
		t.Error("a rune cut at the end made the body invalid")
	}
	if validUTF8([]byte("caf\xe9 au lait")) {
		t.Error("windows-1252 text passed as UTF-8")
	}
}
