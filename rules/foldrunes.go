package rules

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldRunes applies the per-character steps: invisible characters,
// NFKC, accents, case, homoglyphs, Traditional Chinese, katakana. A
// character is folded with the combining marks that follow it; one
// standing alone is looked up in the rune tables.
func (nz *normalizer) foldRunes(s string) {
	us := nz.us[:0]
	if cap(us) < len(s) {
		us = make([]unit, 0, len(s))
	}
	wide := 0
	hidden := false // an invisible character was dropped just before
	var next runeAt // the character at s[i] when ahead
	ahead := false
	for i := 0; i < len(s); {
		if !ahead {
			if !hidden && s[i] < utf8.RuneSelf {
				us, i = foldASCII(us, s, i)
				if i == len(s) {
					break
				}
			}
			next = lookRune(s, i)
		}
		c := next
		ahead = false
		// The combining marks that follow belong to the character.
		j := i + c.size
		for j < len(s) && s[j] >= utf8.RuneSelf {
			m := lookRune(s, j)
			if m.class&cMark == 0 {
				next, ahead = m, true
				break
			}
			j += m.size
		}
		u := unit{start: int32(i), end: int32(j)}
		single := j == i+c.size
		before := len(us)
		i = j
		if c.class&cInvisible != 0 {
			hidden = true
			continue
		}
		if hidden && len(us) > 0 && us[len(us)-1].class&cLetter != 0 && c.class&cAnyLetter != 0 {
			u.flags = flagObfuscated
		}
		hidden = false
		switch {
		case c.page == nil && single:
			a := &asciiTab[c.r]
			u.r, u.class = rune(a.lower), a.outClass
			us = append(us, u)
			continue
		case c.page != nil && single:
			k := c.r & 0xff
			f := c.page.fold[k]
			if f&foldMany != 0 {
				for _, x := range c.page.many[uint8(k)] {
					v := u
					v.r, v.class = x.r, x.class
					if x.glyph {
						v.flags |= flagObfuscated
					}
					us = append(us, v)
				}
				break
			}
			u.r, u.class = rune(f&foldRune), c.page.outClass[k]
			if f&foldGlyph != 0 {
				u.flags |= flagObfuscated
			}
			us = append(us, u)
		default:
			us = nz.foldClusterCached(us, s[u.start:u.end], u)
		}
		wide += 3 * (len(us) - before)
	}
	nz.us, nz.wide = us, wide
}

// runeAt is a character read from the text with its class and, unless it
// is ASCII, its page.
type runeAt struct {
	r     rune
	size  int
	page  *runePage
	class uint16
}

func lookRune(s string, i int) runeAt {
	r, size := decodeRune(s, i)
	if r < utf8.RuneSelf {
		return runeAt{r: r, size: size, class: asciiTab[r].class}
	}
	p := pages[r>>8].Load()
	if p == nil {
		p = page(r)
	}
	return runeAt{r: r, size: size, page: p, class: p.class[r&0xff]}
}

// decodeRune is utf8.DecodeRuneInString(s[i:]) with the two- and
// three-byte forms decoded in line.
func decodeRune(s string, i int) (rune, int) {
	c := s[i]
	switch {
	case c < utf8.RuneSelf:
		return rune(c), 1
	case c >= 0xC2 && c < 0xE0 && i+1 < len(s):
		if c1 := s[i+1]; c1&0xC0 == 0x80 {
			return rune(c&0x1F)<<6 | rune(c1&0x3F), 2
		}
	case c >= 0xE0 && c < 0xF0 && i+2 < len(s):
		c1, c2 := s[i+1], s[i+2]
		if c1&0xC0 == 0x80 && c2&0xC0 == 0x80 {
			r := rune(c&0x0F)<<12 | rune(c1&0x3F)<<6 | rune(c2&0x3F)
			if r >= 0x800 && (r < 0xD800 || r > 0xDFFF) {
				return r, 3
			}
		}
	}
	return utf8.DecodeRuneInString(s[i:])
}

// foldASCII folds the run of ASCII characters from s[i], up to the last
// one before a non-ASCII character (which might be a combining mark that
// belongs to it), and returns where it stopped.
func foldASCII(us []unit, s string, i int) ([]unit, int) {
	end := i
	for end < len(s) && s[end] < utf8.RuneSelf {
		end++
	}
	if end < len(s) {
		end-- // leave the last one to the general path
	}
	n := len(us)
	us = slices.Grow(us, end-i)[:n+end-i]
	for k, c := range []byte(s[i:end]) {
		a := &asciiTab[c&0x7f]
		us[n+k] = unit{r: rune(a.lower), start: int32(i + k), end: int32(i + k + 1), class: a.outClass}
	}
	return us, end
}

// maxClusters bounds a normalizer's cluster cache.
const maxClusters = 512

// foldClusterCached is foldCluster through the normalizer's cache, with
// class bits.
func (nz *normalizer) foldClusterCached(us []unit, cluster string, u unit) []unit {
	fs, ok := nz.clusters[cluster]
	if !ok {
		k := len(us)
		us = nz.foldCluster(us, cluster, unit{})
		fs = make([]folded, 0, len(us)-k)
		for _, v := range us[k:] {
			fs = append(fs, folded{r: v.r, class: classOf(v.r), glyph: v.flags&flagObfuscated != 0})
		}
		us = us[:k]
		if nz.clusters == nil || len(nz.clusters) >= maxClusters {
			nz.clusters = make(map[string][]folded)
		}
		nz.clusters[strings.Clone(cluster)] = fs
	}
	for _, x := range fs {
		v := u
		v.r, v.class = x.r, x.class
		if x.glyph {
			v.flags |= flagObfuscated
		}
		us = append(us, v)
	}
	return us
}

// foldCluster folds one character and the combining marks after it: NFKC,
// accents stripped unless the script keeps its marks, invisible characters
// dropped, then appendFolded with u's span and flags.
func (nz *normalizer) foldCluster(us []unit, cluster string, u unit) []unit {
	nz.nfkc = norm.NFKC.AppendString(nz.nfkc[:0], cluster)
	out := nz.nfkc
	base, _ := utf8.DecodeRune(out)
	strip := !keepsMarks(base)
	if strip {
		nz.nfd = norm.NFD.Append(nz.nfd[:0], out...)
		out = nz.nfd
	}
	for k := 0; k < len(out); {
		c, size := utf8.DecodeRune(out[k:])
		k += size
		if strip && unicode.Is(unicode.Mn, c) {
			continue
		}
		if invisible(c) {
			continue
		}
		us = appendFolded(us, c, u)
	}
	return us
}

// appendFolded lowers c, folds it and appends the result with u's span.
// It leaves the class bits to the caller.
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
