package rules

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalized is one field's text as the matcher reads it, with a map from
// every byte back to the original text.
//
// Normalisation, in order: invisible characters (zero-width spaces and
// joiners, soft hyphen, BOM, bidi controls, variation selectors) are
// removed; each character is put in NFKC form (full-width letters become
// ASCII); accents are stripped from Latin, Greek and Cyrillic letters (NFD,
// then combining marks dropped) while Thai and kana keep theirs; text is
// lower-cased; Cyrillic and Greek letters that pass for Latin ones are
// folded to Latin; Traditional Chinese characters become Simplified ones and
// katakana becomes hiragana; words spelled out in single letters ("i v o r
// y", "r.h.i.n.o") are joined; digits and symbols standing for letters
// inside words are read as letters ("1v0ry"); and every run of spaces,
// punctuation and symbols becomes one space, or nothing at all when it is a
// single separator between two Han, kana or Thai characters ("象 牙").
type Normalized struct {
	// Text is the normalised text.
	Text string
	// spans[i] is the original byte range that produced Text[i].
	spans []span
	// flags[i] holds flagSoft and flagObfuscated for the rune at Text[i].
	flags []uint8
}

type span struct{ start, end int32 }

const (
	// flagSoft marks a word boundary that is not visible in Text: between
	// the letters of a word that was spelled out and joined.
	flagSoft uint8 = 1 << iota
	// flagObfuscated marks a character that was read through an
	// obfuscation: a homoglyph, a leetspeak digit or a letter right after
	// an invisible character.
	flagObfuscated
	// flagJoined marks a character whose separator from the previous one
	// was removed: inside a spelled-out word ("i v o r y") or between two
	// Han, kana or Thai characters ("象 牙"). It shows an obfuscation only
	// inside a match, since such text also puts spaces between words.
	flagJoined
)

// unit is one normalised rune and where it came from.
type unit struct {
	r     rune
	start int32
	end   int32
	flags uint8
}

// Normalize normalises s for matching; see Normalized.
func Normalize(s string) *Normalized {
	us := foldRunes(s)
	us = joinSpelled(us)
	readLeet(us)
	return collapse(us)
}

// Source returns the original byte range [start, end) of the normalised
// range [nstart, nend). The range is widened to whole original characters.
func (n *Normalized) Source(nstart, nend int) (int, int) {
	if nstart < 0 || nend > len(n.spans) || nstart >= nend {
		return 0, 0
	}
	return int(n.spans[nstart].start), int(n.spans[nend-1].end)
}

// soft reports whether a hidden word boundary sits at byte i of Text.
func (n *Normalized) soft(i int) bool {
	return i < len(n.flags) && n.flags[i]&flagSoft != 0
}

// obfuscated reports whether the text in [start, end) of Text was written
// in disguise: a character read through a homoglyph, leetspeak or an
// invisible character, or a separator removed inside it.
func (n *Normalized) obfuscated(start, end int) bool {
	for i := start; i < end && i < len(n.flags); i++ {
		if n.flags[i]&flagObfuscated != 0 || i > start && utf8.RuneStart(n.Text[i]) && n.flags[i]&flagJoined != 0 {
			return true
		}
	}
	return false
}

// foldRunes applies the per-character steps: invisible characters,
// NFKC, accents, case, homoglyphs, Traditional Chinese, katakana.
func foldRunes(s string) []unit {
	us := make([]unit, 0, len(s))
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
			us = append(us, unit{r: unicode.ToLower(r), start: start, end: end, flags: flags})
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
			us = appendFolded(us, c, unit{start: start, end: end, flags: flags})
		}
	}
	return us
}

// appendFolded lowers c, folds it and appends the result with u's span.
func appendFolded(us []unit, c rune, u unit) []unit {
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

// isLetter reports a letter of a script that separates words with spaces.
func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) && !substringScript(r)
}

// isWord reports a rune that continues a word: a letter of a spaced script
// or a digit.
func isWord(r rune) bool {
	return isLetter(r) || unicode.IsDigit(r)
}

// letterLike reports a letter or a character that may stand for one.
func letterLike(r rune) bool {
	return isLetter(r) || isLeet(r)
}

func isLeet(r rune) bool {
	switch r {
	case '0', '1', '3', '4', '5', '7', '@', '$':
		return true
	}
	return false
}

// joinSpelled joins words spelled out in single letters separated by one
// repeated separator: at least two letters with dots, dashes and the like,
// at least three with spaces, so ordinary one-letter words ("il y a 3
// ans") stay.
func joinSpelled(us []unit) []unit {
	single := func(i int) bool {
		if !letterLike(us[i].r) {
			return false
		}
		before := i == 0 || !letterLike(us[i-1].r) && !unicode.IsDigit(us[i-1].r)
		after := i+1 == len(us) || !letterLike(us[i+1].r) && !unicode.IsDigit(us[i+1].r)
		return before && after
	}
	out := make([]unit, 0, len(us))
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

// readLeet reads digits and symbols inside words as the letters they stand
// for. A token (a run of letters, digits, '@' and '$') is read only when it
// holds a letter and every digit in it has a letter reading, and it is not
// a quantity ("12mm", "5kg", "100ml") or a model number ("iphone13").
func readLeet(us []unit) {
	for i := 0; i < len(us); {
		if !tokenRune(us[i].r) {
			i++
			continue
		}
		j := i
		for j < len(us) && tokenRune(us[j].r) {
			j++
		}
		if leetToken(us[i:j]) {
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

func tokenRune(r rune) bool {
	return isLetter(r) || unicode.IsDigit(r) || r == '@' || r == '$'
}

func leetToken(tok []unit) bool {
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
	if xs := countRune(tok, 'x'); xs == letters {
		return false // dimensions: "4x4", "10x10"
	}
	for lead < len(tok) && unicode.IsDigit(tok[lead].r) {
		lead++
	}
	for trail < len(tok) && unicode.IsDigit(tok[len(tok)-1-trail].r) {
		trail++
	}
	if lead > 0 && lead+letters == len(tok) && letters <= 3 {
		return false // quantity and unit
	}
	if trail >= 2 && trail+letters == len(tok) {
		return false // model number
	}
	return true
}

// separator reports runes that only separate words: spaces, punctuation,
// math and modifier symbols, currency signs and controls.
func separator(r rune) bool {
	if r < utf8.RuneSelf {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsControl(r) ||
		unicode.In(r, unicode.Sm, unicode.Sk, unicode.Sc)
}

// collapse turns runs of separators into one space (or none between two
// characters of unspaced scripts) and builds the Normalized text.
func collapse(us []unit) *Normalized {
	n := &Normalized{
		spans: make([]span, 0, len(us)+len(us)/2),
		flags: make([]uint8, 0, len(us)+len(us)/2),
	}
	buf := make([]byte, 0, len(us)+len(us)/2)
	emit := func(u unit) {
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
		case j == i+1 && substringScript(us[i-1].r) && substringScript(us[j].r):
			if joinSeparator(us[i].r) {
				us[j].flags |= flagJoined
			}
		default:
			emit(unit{r: ' ', start: us[i].start, end: us[j-1].end})
		}
		i = j
	}
	n.Text = string(buf)
	return n
}

func countRune(us []unit, r rune) int {
	n := 0
	for _, u := range us {
		if u.r == r {
			n++
		}
	}
	return n
}

// emoji reports pictographs and other symbols that sellers put inside or
// between letters.
func emoji(r rune) bool {
	return r > 0x2000 && unicode.Is(unicode.So, r)
}
