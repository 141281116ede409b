package rules

import (
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Normalisation asks the same questions of every character (is it a
// letter, a separator, a combining mark; what does it fold to), and the
// answers come from Unicode tables that are slow to consult. The answers
// are computed once per block of 256 code points, the first time a
// character of the block is seen, by the plain functions in fold.go and
// foldrunes.go, and read from memory after that.

// Character classes: the answers of the predicates in fold.go for one
// rune.
const (
	cLetter    uint16 = 1 << iota // isLetter: a letter of a spaced script
	cDigit                        // unicode.IsDigit
	cLeet                         // isLeet: a digit or symbol that stands for a letter
	cSep                          // separator
	cJoinSep                      // joinSeparator
	cEmoji                        // emoji
	cUnspaced                     // substringScript
	cMark                         // joins the character before it into one cluster
	cInvisible                    // invisible
	cAnyLetter                    // unicode.IsLetter
)

// A fold is what one character standing alone becomes: usually one rune
// (foldRune bits), flagged when it was a homoglyph, or, with foldMany set,
// the runes in its page's many map (none at all for a lone accent).
const (
	foldRune  = 1<<21 - 1
	foldGlyph = 1 << 30
	foldMany  = 1 << 31
)

// folded is one rune a character folds to.
type folded struct {
	r     rune
	class uint16
	glyph bool // read through a homoglyph
}

// runePage holds the answers for 256 consecutive code points.
type runePage struct {
	class    [256]uint16
	fold     [256]uint32
	outClass [256]uint16 // class of the single rune fold gives
	many     map[uint8][]folded
}

var (
	pages    [(unicode.MaxRune + 1) >> 8]atomic.Pointer[runePage]
	pagesMu  sync.Mutex
	asciiTab = buildASCII()
)

// asciiInfo is the class and fold of an ASCII character.
type asciiInfo struct {
	class, outClass uint16
	lower           byte
}

func buildASCII() *[utf8.RuneSelf]asciiInfo {
	var t [utf8.RuneSelf]asciiInfo
	for r := rune(0); r < utf8.RuneSelf; r++ {
		lower := unicode.ToLower(r)
		t[r] = asciiInfo{class: computeClass(r), outClass: computeClass(lower), lower: byte(lower)}
	}
	return &t
}

// page returns the page holding r, building it on first use.
func page(r rune) *runePage {
	if r < 0 || r > unicode.MaxRune {
		r = utf8.RuneError
	}
	if p := pages[r>>8].Load(); p != nil {
		return p
	}
	pagesMu.Lock()
	defer pagesMu.Unlock()
	if p := pages[r>>8].Load(); p != nil {
		return p
	}
	p := buildPage(r &^ 0xff)
	pages[r>>8].Store(p)
	return p
}

// classOf returns the class bits of r.
func classOf(r rune) uint16 {
	if r >= 0 && r < utf8.RuneSelf {
		return asciiTab[r].class
	}
	return page(r).class[r&0xff]
}

func buildPage(first rune) *runePage {
	p := &runePage{}
	var nz normalizer
	for k := 0; k < 256; k++ {
		r := first + rune(k)
		p.class[k] = computeClass(r)
		if r >= 0xD800 && r <= 0xDFFF {
			r = utf8.RuneError // surrogates never come out of decoding
		}
		var buf [utf8.UTFMax]byte
		out := nz.foldCluster(nil, string(buf[:utf8.EncodeRune(buf[:], r)]), unit{})
		if len(out) == 1 && out[0].r <= foldRune {
			p.fold[k] = uint32(out[0].r)
			if out[0].flags&flagObfuscated != 0 {
				p.fold[k] |= foldGlyph
			}
			p.outClass[k] = computeClass(out[0].r)
			continue
		}
		p.fold[k] = foldMany
		if p.many == nil {
			p.many = map[uint8][]folded{}
		}
		fs := make([]folded, 0, len(out))
		for _, u := range out {
			fs = append(fs, folded{r: u.r, class: computeClass(u.r), glyph: u.flags&flagObfuscated != 0})
		}
		p.many[uint8(k)] = fs
	}
	return p
}

// computeClass asks the predicates about r.
func computeClass(r rune) uint16 {
	var c uint16
	set := func(bit uint16, ok bool) {
		if ok {
			c |= bit
		}
	}
	set(cLetter, isLetter(r))
	set(cDigit, unicode.IsDigit(r))
	set(cLeet, isLeet(r))
	set(cSep, separator(r))
	set(cJoinSep, joinSeparator(r))
	set(cEmoji, emoji(r))
	set(cUnspaced, substringScript(r))
	set(cMark, unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) || r == 0xFF9E || r == 0xFF9F)
	set(cInvisible, invisible(r))
	set(cAnyLetter, unicode.IsLetter(r))
	return c
}
