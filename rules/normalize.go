package rules

import (
	"slices"
	"sync"
	"unicode/utf8"
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
// punctuation and symbols becomes one space. Between two Han, kana or Thai
// characters a single separator other than a line break, or a run of
// spaces and dots, is dropped ("象 牙", "象  牙", "象 . 牙"), and any other
// run becomes a line break.
type Normalized struct {
	// Text is the normalised text.
	Text string
	// text is Text as bytes, which the matcher reads; in a matcher's
	// scratch space it is reused and Text is left empty.
	text []byte
	// starts are the offsets in Text where a word may start: where
	// boundaryBefore holds.
	starts []int32
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

// unit is one normalised rune, where it came from and its class bits.
type unit struct {
	r     rune
	start int32
	end   int32
	flags uint8
	class uint16
}

// normalizer holds the buffers of one normalisation; they are reused
// through a pool, so that matching allocates little.
type normalizer struct {
	us, us2   []unit
	nfkc, nfd []byte
	// clusters caches what characters with combining marks fold to: Thai
	// and decomposed Vietnamese repeat a few of them.
	clusters map[string][]folded
	// wide counts 3 bytes for every unit folded outside the ASCII fast
	// path, so that len(us)+wide bounds the length of the text.
	wide int
}

var normalizers = sync.Pool{New: func() any { return new(normalizer) }}

// Normalize normalises s for matching; see Normalized.
func Normalize(s string) *Normalized {
	n := &Normalized{}
	nz := normalizers.Get().(*normalizer)
	nz.normalize(s, n)
	normalizers.Put(nz)
	n.Text = string(n.text)
	return n
}

// normalize normalises s into n, reusing the capacity of n's map.
func (nz *normalizer) normalize(s string, n *Normalized) {
	nz.foldRunes(s)
	nz.joinSpelled()
	readLeet(nz.us)
	nz.collapse(n)
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
		if n.flags[i]&flagObfuscated != 0 || i > start && utf8.RuneStart(n.text[i]) && n.flags[i]&flagJoined != 0 {
			return true
		}
	}
	return false
}

// Class tests on units.
const (
	cLetterLike = cLetter | cLeet          // a letter or a character that may stand for one
	cToken      = cLetter | cDigit | cLeet // letters, digits, '@' and '$'
	cNotSingle  = cLetter | cLeet | cDigit // a neighbour that makes a letter part of a longer word
)

// joinSpelled joins words spelled out in single letters separated by one
// repeated separator: at least two letters with dots, dashes and the like,
// at least three with spaces, so ordinary one-letter words ("il y a 3
// ans") stay. Text with nothing to join is left where it is.
func (nz *normalizer) joinSpelled() {
	us := nz.us
	single := func(i int) bool {
		return us[i].class&cLetterLike != 0 &&
			(i == 0 || us[i-1].class&cNotSingle == 0) &&
			(i+1 == len(us) || us[i+1].class&cNotSingle == 0)
	}
	var out []unit
	copied := 0 // us[:copied] is in out, once out is in use
	for i := 0; i+2 < len(us); i++ {
		if us[i].class&cLetterLike == 0 || us[i+1].class&(cJoinSep|cEmoji) == 0 || !single(i) || !single(i+2) {
			continue
		}
		sep := us[i+1].r
		last, count, letters := i, 1, 0
		if us[i].class&cLetter != 0 {
			letters++
		}
		for last+2 < len(us) && us[last+1].r == sep && single(last+2) {
			last += 2
			count++
			if us[last].class&cLetter != 0 {
				letters++
			}
		}
		minCount, minLetters := 2, 2
		if sep == ' ' {
			minCount, minLetters = 3, 3
		}
		if count < minCount || letters < minLetters {
			continue
		}
		if out == nil {
			out = nz.us2[:0]
		}
		out = append(out, us[copied:i]...)
		for k := i; k <= last; k += 2 {
			u := us[k]
			if k > i {
				u.flags |= flagSoft | flagJoined
			}
			out = append(out, u)
		}
		copied = last + 1
		i = last
	}
	if out == nil {
		return
	}
	out = append(out, us[copied:]...)
	nz.us, nz.us2 = out, us
}

// readLeet reads digits and symbols inside words as the letters they stand
// for. A token (a run of letters, digits, '@' and '$') is read only when it
// holds a letter and every digit in it has a letter reading, and it is not
// a quantity ("12mm", "5kg", "100ml") or a model number ("iphone13").
func readLeet(us []unit) {
	for i := 0; i < len(us); i++ {
		if us[i].class&cLeet == 0 {
			continue
		}
		// A leet character: read the token around it.
		start, end := i, i+1
		for start > 0 && us[start-1].class&cToken != 0 {
			start--
		}
		for end < len(us) && us[end].class&cToken != 0 {
			end++
		}
		if leetToken(us[start:end]) {
			for k := start; k < end; k++ {
				if l, ok := leet[us[k].r]; ok {
					us[k].r, us[k].class = l, asciiTab[l].class
					us[k].flags |= flagObfuscated
				}
			}
		}
		i = end
	}
}

func leetToken(tok []unit) bool {
	letters, leets, lead, trail := 0, 0, 0, 0
	for _, u := range tok {
		switch {
		case u.class&cLetter != 0:
			letters++
		case u.class&cLeet != 0:
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
	for lead < len(tok) && tok[lead].class&cDigit != 0 {
		lead++
	}
	for trail < len(tok) && tok[len(tok)-1-trail].class&cDigit != 0 {
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

// collapse turns runs of separators into one space (or nothing, or a line
// break, between two characters of unspaced scripts; see Normalized) and
// writes the text and its map into n.
func (nz *normalizer) collapse(n *Normalized) {
	us := nz.us
	bound := len(us) + nz.wide
	buf := slices.Grow(n.text[:0], bound)[:bound]
	spans := slices.Grow(n.spans[:0], bound)[:bound]
	flags := slices.Grow(n.flags[:0], bound)[:bound]
	starts := n.starts[:0]
	k := 0
	word := false // the last rune written continues a word
	for i := 0; i < len(us); {
		// A run of ASCII word characters, written as they are.
		for ; i < len(us); i++ {
			u := &us[i]
			if u.class&cSep != 0 || u.r >= utf8.RuneSelf {
				break
			}
			if !word || u.flags&flagSoft != 0 {
				starts = append(starts, int32(k))
			}
			word = u.class&(cLetter|cDigit) != 0
			buf[k], spans[k], flags[k] = byte(u.r), span{u.start, u.end}, u.flags
			k++
		}
		if i == len(us) {
			break
		}
		u := us[i]
		switch {
		case u.class&cEmoji != 0 && i > 0 && i+1 < len(us) && us[i-1].class&cLetter != 0 && us[i+1].class&cLetter != 0:
			us[i+1].flags |= flagJoined // a symbol inside a word: "i🐘vory"
			i++
			continue
		case u.class&cSep == 0:
			i++
		default:
			j := i + 1
			for j < len(us) && us[j].class&cSep != 0 {
				j++
			}
			switch {
			case i == 0 || j == len(us):
				i = j
				continue // leading or trailing
			case us[i-1].class&cUnspaced != 0 && us[j].class&cUnspaced != 0:
				// Between two Han, kana or Thai characters: one separator
				// other than a line break, or a run of spaces and dots
				// ("象  牙", "象 . 牙"), is dropped; any other run becomes a
				// line break rather than a space, which a second pass
				// would take for a single separator and drop.
				if j == i+1 && u.r != '\n' || joinRun(us[i:j]) {
					if joinRun(us[i:j]) {
						us[j].flags |= flagJoined
					}
					i = j
					continue
				}
				u = unit{r: '\n', start: u.start, end: us[j-1].end, class: cSep}
				i = j
			default:
				u = unit{r: ' ', start: u.start, end: us[j-1].end}
				i = j
			}
		}
		// Write u.
		if !word || u.flags&flagSoft != 0 {
			starts = append(starts, int32(k))
		}
		word = u.class&(cLetter|cDigit) != 0
		if u.r < utf8.RuneSelf {
			buf[k], spans[k], flags[k] = byte(u.r), span{u.start, u.end}, u.flags
			k++
			continue
		}
		w := utf8.EncodeRune(buf[k:], u.r)
		for end := k + w; k < end; k++ {
			spans[k], flags[k] = span{u.start, u.end}, u.flags
		}
	}
	n.Text = ""
	n.text, n.spans, n.flags, n.starts = buf[:k], spans[:k], flags[:k], starts
}

// joinRun reports a run of separators made only of those that split a
// word into letters.
func joinRun(us []unit) bool {
	for _, u := range us {
		if u.class&cJoinSep == 0 {
			return false
		}
	}
	return true
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
