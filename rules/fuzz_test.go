package rules

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/wildwatch/wildwatch"
)

// normalizeSeeds are texts that exercise every step of normalisation.
var normalizeSeeds = []string{
	"", " ", "IVORY Bangle", "Ivóry", "ivo\u0301ry", "ｉｖｏｒｙ　ｔｕｓｋ", "іvоry", "ιvοry",
	"ivo\u200bry", "\u200bivory", "i\u200dv\u2060ory", "t\u00adusk", "\ufeffrhino horn",
	"Victorian I V O R Y knife", "r.h.i.n.o h.o.r.n", "i-v-o-r-y", "i_v_o_r_y", "i*v*o*r*y",
	"i🐘v🐘o🐘r🐘y", "ivo🐘ry tusk", "ivory 🐘 tusk ✈", "Vảy t.ê t.ê", "il y a 3 ans",
	"1v0ry", "3lf3nb31n", "t1g3r cl@w", "12mm beads, 5kg, 100ml", "$50 or 4x4", "iphone13 case",
	"  Ivory -- tusk!!  (old) ", "Tiger's eye", "Stoßzahn", "Sừng tê giác", "Đồi mồi",
	"เสื้อ เสือ", "象 牙 手镯", "象.牙", "鶴 頂 紅 手串", "龜甲", "ベッコウ", "ﾍﾞｯｺｳ", "ﬁne ivory",
	"ﷺ", "㍿ ㎏", "\xff\xfeivory\x80", "a\u0301\u0302\u0303", "\u0301leading mark",
	"x\ufe0fy", "ϲ ς Σ", "𝐢𝐯𝐨𝐫𝐲", "a . b . c", "1 v 0 r y", "no\u200b t resin",
}

// FuzzNormalize checks the offset map: every byte of the normalised text
// maps into the original, Source widens to whole characters, text that is
// already normal stays as it is, and the table-driven normaliser agrees
// with the reference one.
func FuzzNormalize(f *testing.F) {
	for _, s := range normalizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sameNormalized(t, s)
		n := Normalize(s)
		if len(n.spans) != len(n.Text) || len(n.flags) != len(n.Text) {
			t.Fatalf("map has %d spans and %d flags for %d bytes", len(n.spans), len(n.flags), len(n.Text))
		}
		if !utf8.ValidString(n.Text) {
			t.Fatalf("Normalize(%q) = %q, not UTF-8", s, n.Text)
		}
		prev := int32(0)
		for i, sp := range n.spans {
			if sp.start < prev || sp.end <= sp.start || int(sp.end) > len(s) {
				t.Fatalf("byte %d of %q maps to [%d:%d] (after %d) in %d bytes", i, n.Text, sp.start, sp.end, prev, len(s))
			}
			prev = sp.start
		}
		// Word starts are where boundaryBefore holds.
		var starts []int32
		for i := 0; i < len(n.text); i++ {
			if utf8.RuneStart(n.text[i]) && boundaryBefore(n, i) {
				starts = append(starts, int32(i))
			}
		}
		if !slices.Equal(starts, n.starts) {
			t.Fatalf("Normalize(%q): word starts %v, want %v", s, n.starts, starts)
		}
		valid := utf8.ValidString(s)
		for ns := 0; ns < len(n.Text); ns++ {
			if !utf8.RuneStart(n.Text[ns]) {
				continue
			}
			for _, ne := range []int{ns + 1, nextRune(n.Text, ns), len(n.Text)} {
				if ne > len(n.Text) || ne <= ns || ne < len(n.Text) && !utf8.RuneStart(n.Text[ne]) {
					continue
				}
				start, end := n.Source(ns, ne)
				if start < 0 || end > len(s) || start >= end {
					t.Fatalf("Source(%d, %d) = [%d:%d] in %d bytes", ns, ne, start, end, len(s))
				}
				if valid && (!utf8.RuneStart(s[start]) || end < len(s) && !utf8.RuneStart(s[end])) {
					t.Fatalf("Source(%d, %d) = [%d:%d] cuts a character of %q", ns, ne, start, end, s)
				}
			}
		}
		// Normal text is a fixed point, unless it still holds what reads
		// as a spelled-out word or leetspeak once the separators around
		// it are gone ("a . b . c" becomes "a b c", then "abc").
		if again := Normalize(n.Text); again.Text != n.Text && !respelled(n.Text) {
			t.Fatalf("Normalize(%q) = %q, but Normalize of that is %q", s, n.Text, again.Text)
		}
	})
}

func nextRune(s string, i int) int {
	_, size := utf8.DecodeRuneInString(s[i:])
	return i + size
}

// respelled reports text in which normalising again may join letters or
// read digits as letters (single letters or leet characters standing
// between separators).
func respelled(s string) bool {
	var nz normalizer
	nz.foldRunes(s)
	us := nz.us
	for i, u := range us {
		if u.class&cLetterLike != 0 && (i == 0 || us[i-1].class&cNotSingle == 0) && (i+1 == len(us) || us[i+1].class&cNotSingle == 0) {
			return true
		}
		if u.class&cLeet != 0 {
			return true
		}
	}
	return false
}

// parseSeeds are rule-set documents, good and broken.
var parseSeeds = []string{
	testPack,
	"name: t\nversion: 1\nthresholds: {flag: 1}\ncategories: [{name: ivory, rules: [{id: a, weight: 1, terms: [ivory]}]}]\n",
	"name: t\nversion: 1\nkey: value: other\n",
	"name: [\n",
	"&a [*a]",
	"categories: *x\n",
	"name: t\nversion: 1\nthresholds: {flag: 1}\ncategories: [{name: ivory, rules: [{id: a, weight: 1, regex: ['(']}]}]\n",
	"vocabulary: {a: &a [x]}\nname: t\nversion: 1\nthresholds: {flag: 1}\ncategories: [{name: ivory, rules: [{id: a, weight: 1, terms: *a, requires: {en: *a}}], exclusions: [{id: b, terms: *a, unless: *a, except: [y]}]}]\n",
	"",
	"---\n...\n",
	"- 1\n- 2\n",
	"name: t\nversion: 1\nthresholds: {flag: 1, review: 0.5}\nnegation: {window: 3, before: [not], after: {ja: [ない]}}\ncategories: [{name: tiger, rules: [{id: a, weight: 1, terms: ['*bone', 'claw*']}]}]\n",
}

var (
	fuzzDefaultOnce sync.Once
	fuzzDefault     *Matcher
)

// FuzzParse feeds the loader arbitrary documents: it never panics, its
// errors carry a line of 1 or more when they carry one, and what it
// accepts compiles and matches.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		rs, err := Parse("fuzz.yaml", doc)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Line < 0 {
				t.Fatalf("error %v has line %d", err, pe.Line)
			}
			if pe.Line > 0 && !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
				t.Fatalf("error %q does not start with the file", err)
			}
			return
		}
		m, err := Compile(rs)
		if err != nil {
			t.Fatalf("Parse accepted a rule set that Compile refuses: %v", err)
		}
		checkVerdict(t, m, wildwatch.Listing{Title: string(doc)})
		if len(Diff(rs, rs)) != 0 {
			t.Fatal("a rule set differs from itself")
		}
	})
}

// FuzzMatch runs the default pack and the test pack over arbitrary
// listings: Match never panics and every match points into its field.
func FuzzMatch(f *testing.F) {
	for i, s := range normalizeSeeds {
		f.Add(s, normalizeSeeds[(i+7)%len(normalizeSeeds)], "seller")
	}
	f.Add("Carved 1v0ry netsuke", "not resin, no papers", "")
	f.Add("Escamas de pangolín, 1 kg", "象牙白 手镯 不是塑料", "象牙屋")
	f.Add("tame baby gibbon", "plush toy, Tiger Balm", "campaign")
	f.Add("ivory ivory ivory ivory", "ivory, ivory; ivory", "ivory")
	test := compileTest(f)
	fuzzDefaultOnce.Do(func() { fuzzDefault = defaultMatcher(f) })
	f.Fuzz(func(t *testing.T, title, desc, seller string) {
		l := wildwatch.Listing{Title: title, Description: desc, Seller: seller, Location: title + desc}
		checkVerdict(t, test, l)
		checkVerdict(t, fuzzDefault, l)
	})
}

// checkVerdict matches l and checks the verdict against its own listing.
func checkVerdict(t *testing.T, m *Matcher, l wildwatch.Listing) {
	t.Helper()
	v := m.Match(l)
	fields := map[string]string{}
	for _, f := range l.TextFields() {
		fields[f.Name] = f.Value
	}
	for _, mt := range append(v.Matches, v.Exclusions...) {
		f, ok := fields[mt.Field]
		if !ok || mt.Start < 0 || mt.End > len(f) || mt.Start >= mt.End || f[mt.Start:mt.End] != mt.Text {
			t.Fatalf("%s: match %+v does not point into %s %q", m.Version(), mt, mt.Field, f)
		}
	}
	if v.Flagged != (v.Score >= m.flag && v.Score > 0) || v.Flagged && v.Review {
		t.Fatalf("%s: flagged %v review %v at score %v", m.Version(), v.Flagged, v.Review, v.Score)
	}
	if (v.Category == "") != (v.Score == 0) {
		t.Fatalf("%s: category %q at score %v", m.Version(), v.Category, v.Score)
	}
}
