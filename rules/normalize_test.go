package rules

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
		// probe is a piece of want; source is the original text it maps
		// back to ("" to skip).
		probe, source string
	}{
		{"case", "IVORY Bangle", "ivory bangle", "ivory", "IVORY"},
		{"accent acute", "Ivóry", "ivory", "ivory", "Ivóry"},
		{"accent leading", "ívory tusk", "ivory tusk", "tusk", "tusk"},
		{"diaeresis", "ivöry", "ivory", "ivory", "ivöry"},
		{"combining mark", "ivo\u0301ry", "ivory", "ivory", "ivo\u0301ry"},
		{"full width", "ｉｖｏｒｙ　ｔｕｓｋ", "ivory tusk", "tusk", "ｔｕｓｋ"},
		{"cyrillic homoglyphs", "іvоry", "ivory", "ivory", "іvоry"},
		{"greek homoglyphs", "ιvοry", "ivory", "ivory", "ιvοry"},
		{"zero-width space", "ivo\u200bry", "ivory", "ivory", "ivo\u200bry"},
		{"zero-width joiner and word joiner", "i\u200dv\u2060ory", "ivory", "ivory", "i\u200dv\u2060ory"},
		{"soft hyphen", "t\u00adusk", "tusk", "tusk", "t\u00adusk"},
		{"byte order mark", "\ufeffrhino horn", "rhino horn", "rhino", "rhino"},
		{"spaced letters", "Victorian I V O R Y knife", "victorian ivory knife", "ivory", "I V O R Y"},
		{"dotted letters", "r.h.i.n.o h.o.r.n", "rhino horn", "horn", "h.o.r.n"},
		{"dashed letters", "i-v-o-r-y", "ivory", "ivory", "i-v-o-r-y"},
		{"underscores", "i_v_o_r_y", "ivory", "", ""},
		{"asterisks", "i*v*o*r*y", "ivory", "", ""},
		{"emoji between letters", "i🐘v🐘o🐘r🐘y", "ivory", "ivory", "i🐘v🐘o🐘r🐘y"},
		{"emoji inside a word", "ivo🐘ry tusk", "ivory tusk", "ivory", "ivo🐘ry"},
		{"emoji between words stays", "ivory 🐘 tusk ✈", "ivory 🐘 tusk ✈", "", ""},
		{"two dotted letters", "Vảy t.ê t.ê", "vay te te", "te te", "t.ê t.ê"},
		{"one-letter words stay", "il y a 3 ans", "il y a 3 ans", "", ""},
		{"leetspeak", "1v0ry", "ivory", "ivory", "1v0ry"},
		{"leetspeak german", "3lf3nb31n", "elfenbein", "elfenbein", "3lf3nb31n"},
		{"leetspeak symbols", "t1g3r cl@w", "tiger claw", "claw", "cl@w"},
		{"measure survives", "12mm beads, 5kg, 100ml", "12mm beads 5kg 100ml", "5kg", "5kg"},
		{"price survives", "$50 or 4x4", "50 or 4x4", "50", "50"},
		{"model number survives", "iphone13 case", "iphone13 case", "", ""},
		{"punctuation collapses", "  Ivory -- tusk!!  (old) ", "ivory tusk old", "tusk old", "tusk!!  (old"},
		{"apostrophe", "Tiger's eye", "tiger s eye", "", ""},
		{"sharp s", "Stoßzahn", "stosszahn", "stosszahn", "Stoßzahn"},
		{"vietnamese", "Sừng tê giác", "sung te giac", "sung", "Sừng"},
		{"vietnamese d", "Đồi mồi", "doi moi", "doi", "Đồi"},
		{"thai keeps marks", "เสื้อ เสือ", "เสื้อเสือ", "เสือ", "เสือ"},
		{"cjk spaced", "象 牙 手镯", "象牙手镯", "象牙", "象 牙"},
		{"cjk dotted", "象.牙", "象牙", "", ""},
		{"cjk wide spaced", "象  牙 .  手镯", "象牙手镯", "象牙", "象  牙"},
		{"cjk sentence break", "象牙。 手镯", "象牙\n手镯", "\n", "。 "},
		{"traditional", "鶴 頂 紅 手串", "鹤顶红手串", "鹤顶红", "鶴 頂 紅"},
		{"traditional turtle", "龜甲", "龟甲", "龟甲", "龜甲"},
		{"katakana to hiragana", "ベッコウ", "べっこう", "べっこう", "ベッコウ"},
		{"half-width katakana", "ﾍﾞｯｺｳ", "べっこう", "べ", "ﾍﾞ"},
		{"ligature", "ﬁne ivory", "fine ivory", "ivory", "ivory"},
		{"empty", "", "", "", ""},
		{"only punctuation", " ,.!? ", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := Normalize(tc.in)
			if n.Text != tc.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tc.in, n.Text, tc.want)
			}
			if len(n.spans) != len(n.Text) || len(n.flags) != len(n.Text) {
				t.Fatalf("map has %d spans and %d flags for %d bytes", len(n.spans), len(n.flags), len(n.Text))
			}
			if tc.probe == "" {
				return
			}
			i := strings.Index(n.Text, tc.probe)
			if i < 0 {
				t.Fatalf("probe %q not in %q", tc.probe, n.Text)
			}
			s, e := n.Source(i, i+len(tc.probe))
			if got := tc.in[s:e]; got != tc.source {
				t.Errorf("Source of %q = [%d:%d] %q, want %q", tc.probe, s, e, got, tc.source)
			}
		})
	}
}

// TestNormalizeMapsEveryByte checks on the dev set that the offset map is
// monotone and stays inside the original text.
func TestNormalizeMapsEveryByte(t *testing.T) {
	t.Parallel()
	for _, l := range readDevSet(t) {
		for _, f := range l.TextFields() {
			n := Normalize(f.Value)
			prev := 0
			for i, sp := range n.spans {
				if sp.start < int32(prev) || sp.end <= sp.start || int(sp.end) > len(f.Value) {
					t.Fatalf("%s %s: byte %d of %q maps to [%d:%d] after %d", l.ID, f.Name, i, n.Text, sp.start, sp.end, prev)
				}
				prev = int(sp.start)
			}
		}
	}
}

func TestNormalizeObfuscationFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		probe string
		want  bool
	}{
		{"ivory bangle", "ivory", false},
		{"Ivóry bangle", "ivory", false},
		{"ｉｖｏｒｙ", "ivory", false},
		{"іvоry", "ivory", true},
		{"ivo\u200bry", "ivory", true},
		{"\u200bivory", "ivory", false},
		{"1v0ry", "ivory", true},
		{"i v o r y", "ivory", true},
		{"象 牙", "象牙", true},
		{"手镯 象牙", "象牙", false},
	}
	for _, tc := range tests {
		n := Normalize(tc.in)
		i := strings.Index(n.Text, tc.probe)
		if i < 0 {
			t.Fatalf("%q not in %q", tc.probe, n.Text)
		}
		if got := n.obfuscated(i, i+len(tc.probe)); got != tc.want {
			t.Errorf("obfuscated(%q in %q) = %v, want %v", tc.probe, tc.in, got, tc.want)
		}
	}
}
