package rules

import (
	"slices"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The reference normaliser: the plain implementation that asks the
// Unicode tables about every character and allocates as it goes. The
// table-driven normaliser (normalize.go, foldrunes.go, runetable.go) must
// agree with it byte for byte; TestNormalizeMatchesReference and
// FuzzNormalize hold it to that. A change to what normalisation does is
// made in both.

type unitRef struct {
	r     rune
	start int32
	end   int32
	flags uint8
}

func normalizeRef(s string) *Normalized {
	us := foldRunesRef(s)
	us = joinSpelledRef(us)
	readLeetRef(us)
	return collapseRef(us)
}

func foldRunesRef(s string) []unitRef {
	us := make([]unitRef, 0, len(s))
	hidden := false // an invisible character was dropped just before
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		j := i + size
		for j < len(s) {
			m, msize := utf8.DecodeRuneInString(s[j:])
			if !unicode.In(m, unicode.Mn, unicode.Me, unicode.Mc) && m != 0xFF9E && m != 0xFF9F {
				break
			}
			j += msize
		}
		start, end := int32(i), int32(j)
		i = j
		if invisible(r) {
			hidden = true
			continue
		}
		var flags uint8
		if hidden && len(us) > 0 && isLetter(us[len(us)-1].r) && unicode.IsLetter(r) {
			flags = flagObfuscated
		}
		hidden = false
		if r < utf8.RuneSelf && end-start == 1 {
			us = append(us, unitRef{r: unicode.ToLower(r), start: start, end: end, flags: flags})
			continue
		}
		cluster := norm.NFKC.String(s[start:end])
		base, _ := utf8.DecodeRuneInString(cluster)
		strip := !keepsMarks(base)
		if strip {
			cluster = norm.NFD.String(cluster)
		}
		for _, c := range cluster {
			if strip && unicode.Is(unicode.Mn, c) {
				continue
			}
			if invisible(c) {
				continue
			}
			us = appendFoldedRef(us, c, unitRef{start: start, end: end, flags: flags})
		}
	}
	return us
}

func appendFoldedRef(us []unitRef, c rune, u unitRef) []unitRef {
	c = unicode.ToLower(c)
	if c == 'ς' {
		c = 'σ'
	}
	if l, ok := latinLetters[c]; ok {
		for _, x := range l {
			u.r = x
			us = append(us, u)
		}
		return us
	}
	if h, ok := homoglyphs[c]; ok {
		c = h
		u.flags |= flagObfuscated
	} else if t, ok := traditional[c]; ok {
		c = t
	} else if c >= 0x30A1 && c <= 0x30F6 {
		c -= 0x60 // katakana to hiragana
	}
	u.r = c
	return append(us, u)
}

func joinSpelledRef(us []unitRef) []unitRef {
	single := func(i int) bool {
		if !letterLike(us[i].r) {
			return false
		}
		before := i == 0 || !letterLike(us[i-1].r) && !unicode.IsDigit(us[i-1].r)
		after := i+1 == len(us) || !letterLike(us[i+1].r) && !unicode.IsDigit(us[i+1].r)
		return before && after
	}
	out := make([]unitRef, 0, len(us))
	for i := 0; i < len(us); {
		if single(i) && i+2 < len(us) && (joinSeparator(us[i+1].r) || emoji(us[i+1].r)) && single(i+2) {
			sep := us[i+1].r
			last, count, letters := i, 1, 0
			if isLetter(us[i].r) {
				letters++
			}
			for last+2 < len(us) && us[last+1].r == sep && single(last+2) {
				last += 2
				count++
				if isLetter(us[last].r) {
					letters++
				}
			}
			minCount, minLetters := 2, 2
			if sep == ' ' {
				minCount, minLetters = 3, 3
			}
			if count >= minCount && letters >= minLetters {
				for k := i; k <= last; k += 2 {
					u := us[k]
					if k > i {
						u.flags |= flagSoft | flagJoined
					}
					out = append(out, u)
				}
				i = last + 1
				continue
			}
		}
		out = append(out, us[i])
		i++
	}
	return out
}

func readLeetRef(us []unitRef) {
	for i := 0; i < len(us); {
		if !tokenRune(us[i].r) {
			i++
			continue
		}
		j := i
		for j < len(us) && tokenRune(us[j].r) {
			j++
		}
		if leetTokenRef(us[i:j]) {
			for k := i; k < j; k++ {
				if l, ok := leet[us[k].r]; ok {
					us[k].r = l
					us[k].flags |= flagObfuscated
				}
			}
		}
		i = j
	}
}

func leetTokenRef(tok []unitRef) bool {
	letters, leets, lead, trail := 0, 0, 0, 0
	for _, u := range tok {
		switch {
		case isLetter(u.r):
			letters++
		case isLeet(u.r):
			leets++
		default:
			return false // a digit with no letter reading
		}
	}
	if letters == 0 || leets == 0 {
		return false
	}
	if xs := countRuneRef(tok, 'x'); xs == letters {
		return false // dimensions: "4x4", "10x10"
	}
	for lead < len(tok) && unicode.IsDigit(tok[lead].r) {
		lead++
	}
	for trail < len(tok) && unicode.IsDigit(tok[len(tok)-1-trail].r) {
		trail++
	}
	if lead > 0 && lead+letters == len(tok) && letters <= 3 {
		return false // quantity and unitRef
	}
	if trail >= 2 && trail+letters == len(tok) {
		return false // model number
	}
	return true
}

func collapseRef(us []unitRef) *Normalized {
	n := &Normalized{
		spans: make([]span, 0, len(us)+len(us)/2),
		flags: make([]uint8, 0, len(us)+len(us)/2),
	}
	buf := make([]byte, 0, len(us)+len(us)/2)
	emit := func(u unitRef) {
		var tmp [utf8.UTFMax]byte
		k := utf8.EncodeRune(tmp[:], u.r)
		for b := 0; b < k; b++ {
			n.spans = append(n.spans, span{u.start, u.end})
			n.flags = append(n.flags, u.flags)
		}
		buf = append(buf, tmp[:k]...)
	}
	for i := 0; i < len(us); {
		if emoji(us[i].r) && i > 0 && i+1 < len(us) && isLetter(us[i-1].r) && isLetter(us[i+1].r) {
			us[i+1].flags |= flagJoined // a symbol inside a word: "i🐘vory"
			i++
			continue
		}
		if !separator(us[i].r) {
			emit(us[i])
			i++
			continue
		}
		j := i
		for j < len(us) && separator(us[j].r) {
			j++
		}
		switch {
		case i == 0 || j == len(us):
			// leading or trailing
		case substringScript(us[i-1].r) && substringScript(us[j].r):
			joins := true
			for _, u := range us[i:j] {
				joins = joins && joinSeparator(u.r)
			}
			switch {
			case joins:
				us[j].flags |= flagJoined
			case j > i+1 || us[i].r == '\n':
				emit(unitRef{r: '\n', start: us[i].start, end: us[j-1].end})
			}
		default:
			emit(unitRef{r: ' ', start: us[i].start, end: us[j-1].end})
		}
		i = j
	}
	n.Text = string(buf)
	return n
}

func countRuneRef(us []unitRef, r rune) int {
	n := 0
	for _, u := range us {
		if u.r == r {
			n++
		}
	}
	return n
}

func letterLike(r rune) bool {
	return isLetter(r) || isLeet(r)
}

func tokenRune(r rune) bool {
	return isLetter(r) || unicode.IsDigit(r) || r == '@' || r == '$'
}

// sameNormalized fails t unless Normalize and normalizeRef agree on s.
func sameNormalized(t *testing.T, s string) {
	t.Helper()
	got, want := Normalize(s), normalizeRef(s)
	if got.Text != want.Text || !slices.Equal(got.spans, want.spans) || !slices.Equal(got.flags, want.flags) {
		t.Fatalf("Normalize(%q):\n got %q %v %v\nwant %q %v %v", s, got.Text, got.spans, got.flags, want.Text, want.spans, want.flags)
	}
}

func TestNormalizeMatchesReference(t *testing.T) {
	t.Parallel()
	for _, s := range normalizeSeeds {
		sameNormalized(t, s)
	}
	for _, l := range readDevSet(t) {
		for _, f := range l.TextFields() {
			sameNormalized(t, f.Value)
		}
	}
	for _, c := range readCases(t) {
		for _, f := range c.TextFields() {
			sameNormalized(t, f.Value)
		}
	}
}
