package rules

import (
	"math/bits"
	"slices"
)

// automaton finds every occurrence of a set of byte strings in one pass
// over a text (Aho–Corasick), so matching cost grows with the text, not
// with the number of terms. An anchored automaton is a plain trie instead:
// it finds the patterns that start at given offsets (word starts), which
// is all that terms matching whole words need.
//
// States are packed in one array of words, each at its own offset: a
// header (edge count, whether a bitmap of labels follows, dense row),
// the output count, the fail state (not in anchored automata), the
// patterns that end there, then either a 256-bit bitmap of edge labels or
// up to four labels in one word, then the next state of each edge. The
// root and the states one byte deep come first and also have a dense row
// of 256 transitions with the failure links already followed; the text
// spends most of its bytes in them. Deeper states follow depth first, so
// that a path through the trie reads memory in order.
type automaton struct {
	code  []uint32
	dense []uint32 // rows of 256 next states
	hdr   uint32   // header words per state: 2, or 3 with a fail state
	lens  []int32  // pattern lengths
	// free marks the patterns reported whatever follows them; the others
	// are dropped where a word plainly goes on after them, since no term
	// that owns them can match there.
	free []bool
}

// Header bits.
const (
	hdrEdges  = 1<<9 - 1 // edge count
	hdrBitmap = 1 << 9   // a bitmap of labels, rather than one word of them
	hdrDense  = 10       // dense row + 1 from this bit, 0 when none
)

// bitmapEdges is the number of edges from which a state gets a bitmap.
const bitmapEdges = 5

// acMatch is one occurrence of pattern pat at text[start:end].
type acMatch struct {
	pat        int32
	start, end int32
}

// compareMatches orders occurrences by their end and, for one end, the
// longest first: the order in which scan reports them.
func compareMatches(a, b acMatch) int {
	if a.end != b.end {
		return int(a.end - b.end)
	}
	return int(a.start - b.start)
}

// midWord marks the bytes after which a term matching up to a word end
// cannot have ended: ASCII letters and digits, but for the "s" and "e" of
// a plural ending.
var midWord = func() (t [256]bool) {
	for b := '0'; b <= '9'; b++ {
		t[b] = true
	}
	for b := 'a'; b <= 'z'; b++ {
		t[b] = b != 's' && b != 'e'
	}
	return t
}()

// trieNode is a state while the automaton is built.
type trieNode struct {
	labels []byte // sorted
	next   []int32
	fail   int32
	depth  int
	out    []int32 // patterns ending here, then those of the fail state
}

func (n *trieNode) child(b byte) int32 {
	if i, ok := slices.BinarySearch(n.labels, b); ok {
		return n.next[i]
	}
	return 0
}

// newAutomaton builds the automaton for pats; pattern i is reported as i.
// Empty patterns are ignored. An anchored automaton has no failure links
// and is read with walk, not scan. free is as in automaton.
func newAutomaton(pats []string, free []bool, anchored bool) *automaton {
	nodes := []trieNode{{}}
	for i, p := range pats {
		if p == "" {
			continue
		}
		cur := int32(0)
		for k := 0; k < len(p); k++ {
			next := nodes[cur].child(p[k])
			if next == 0 {
				next = int32(len(nodes))
				nodes = append(nodes, trieNode{depth: k + 1})
				n := &nodes[cur]
				pos, _ := slices.BinarySearch(n.labels, p[k])
				n.labels = slices.Insert(n.labels, pos, p[k])
				n.next = slices.Insert(n.next, pos, next)
			}
			cur = next
		}
		nodes[cur].out = append(nodes[cur].out, int32(i))
	}
	if !anchored {
		// Breadth first: a state's fail link points at the longest proper
		// suffix of its path that is also a path from the root.
		queue := []int32{0}
		for q := 0; q < len(queue); q++ {
			cur := queue[q]
			for k, b := range nodes[cur].labels {
				child := nodes[cur].next[k]
				f := int32(0)
				if cur != 0 {
					f = nodes[cur].fail
					for f != 0 && nodes[f].child(b) == 0 {
						f = nodes[f].fail
					}
					f = nodes[f].child(b)
				}
				nodes[child].fail = f
				if out := nodes[f].out; len(out) > 0 {
					nodes[child].out = append(slices.Clip(nodes[child].out), out...)
				}
				queue = append(queue, child)
			}
		}
	}
	a := &automaton{hdr: 3, free: free, lens: make([]int32, len(pats))}
	if anchored {
		a.hdr = 2
	}
	for i, p := range pats {
		a.lens[i] = int32(len(p))
	}
	a.layout(nodes, anchored)
	return a
}

// layout places the states (the root, the states one byte deep, then the
// deeper ones depth first) in code and builds the dense rows.
func (a *automaton) layout(nodes []trieNode, anchored bool) {
	order := append(make([]int32, 0, len(nodes)), 0)
	order = append(order, nodes[0].next...)
	stack := slices.Clone(nodes[0].next)
	slices.Reverse(stack)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if nodes[n].depth > 1 {
			order = append(order, n)
		}
		for k := len(nodes[n].next) - 1; k >= 0; k-- {
			stack = append(stack, nodes[n].next[k])
		}
	}
	offset := make([]uint32, len(nodes))
	size := uint32(0)
	for _, n := range order {
		offset[n] = size
		nd := &nodes[n]
		size += a.hdr + uint32(len(nd.out)) + uint32(len(nd.labels))
		switch {
		case len(nd.labels) >= bitmapEdges:
			size += 8
		case len(nd.labels) > 0:
			size++
		}
	}
	a.code = make([]uint32, 0, size)
	rows := 1 + len(nodes[0].next)
	a.dense = make([]uint32, rows*256)
	for i, n := range order {
		nd := &nodes[n]
		h := uint32(len(nd.labels))
		if len(nd.labels) >= bitmapEdges {
			h |= hdrBitmap
		}
		if i < rows {
			h |= uint32(i+1) << hdrDense
		}
		a.code = append(a.code, h, uint32(len(nd.out)))
		if !anchored {
			a.code = append(a.code, offset[nd.fail])
		}
		for _, p := range nd.out {
			a.code = append(a.code, uint32(p))
		}
		switch {
		case len(nd.labels) >= bitmapEdges:
			var bm [8]uint32
			for _, l := range nd.labels {
				bm[l>>5] |= 1 << (l & 31)
			}
			a.code = append(a.code, bm[:]...)
		case len(nd.labels) > 0:
			var w uint32
			for k, l := range nd.labels {
				w |= uint32(l) << (8 * k)
			}
			a.code = append(a.code, w)
		}
		for _, next := range nd.next {
			a.code = append(a.code, offset[next])
		}
		// Dense rows: the root's own edges, then for each state one byte
		// deep its edges over the root's row (its fail state is the root)
		// or, when anchored, over nothing.
		if i < rows {
			row := a.dense[i*256 : (i+1)*256]
			if i != 0 && !anchored {
				copy(row, a.dense[:256])
			}
			for k, l := range nd.labels {
				row[l] = offset[nd.next[k]]
			}
		}
	}
}

// step follows the edge labelled b out of state s, 0 when there is none;
// a dense state's row has the failure links already followed.
func (a *automaton) step(s uint32, b byte) uint32 {
	code := a.code
	h := code[s]
	if row := h >> hdrDense; row != 0 {
		return a.dense[(row-1)<<8|uint32(b)]
	}
	p := s + a.hdr + code[s+1] // past the outputs
	n := h & hdrEdges
	if h&hdrBitmap != 0 {
		w, bit := uint32(b>>5), uint32(1)<<(b&31)
		if code[p+w]&bit == 0 {
			return 0
		}
		rank := uint32(bits.OnesCount32(code[p+w] & (bit - 1)))
		for k := uint32(0); k < w; k++ {
			rank += uint32(bits.OnesCount32(code[p+k]))
		}
		return code[p+8+rank]
	}
	if n == 0 {
		return 0
	}
	// Up to four labels in one word: find the byte equal to b.
	x := code[p] ^ uint32(b)*0x01010101
	zero := (x - 0x01010101) &^ x & 0x80808080
	if zero == 0 {
		return 0
	}
	if k := uint32(bits.TrailingZeros32(zero)) / 8; k < n {
		return code[p+1+k]
	}
	return 0
}

// report appends the patterns ending at state s, at text[:end].
func (a *automaton) report(n *Normalized, s uint32, start, end int, out []acMatch) []acMatch {
	text := n.text
	goesOn := end < len(text) && midWord[text[end]] && n.flags[end]&flagSoft == 0
	o := s + a.hdr
	for _, p := range a.code[o : o+a.code[s+1]] {
		if goesOn && !a.free[p] {
			continue
		}
		s := start
		if s < 0 {
			s = end - int(a.lens[p])
		}
		out = append(out, acMatch{pat: int32(p), start: int32(s), end: int32(end)})
	}
	return out
}

// scan appends every occurrence of a pattern in n's text to out, in order
// of their end and, for one end, longest pattern first.
func (a *automaton) scan(n *Normalized, out []acMatch) []acMatch {
	text := n.text
	state := uint32(0)
	for i := 0; i < len(text); i++ {
		b := text[i]
		if state == 0 {
			// Skip the bytes that start no pattern.
			for a.dense[b] == 0 {
				if i++; i == len(text) {
					return out
				}
				b = text[i]
			}
		}
		for {
			if next := a.step(state, b); next != 0 || a.code[state]>>hdrDense != 0 {
				state = next
				break
			}
			state = a.code[state+2] // fail
		}
		if a.code[state+1] != 0 {
			out = a.report(n, state, -1, i+1, out)
		}
	}
	return out
}

// walk appends the patterns of an anchored automaton that start at byte
// from of n's text, shortest first.
func (a *automaton) walk(n *Normalized, from int, out []acMatch) []acMatch {
	text := n.text
	state := uint32(0)
	for i := from; i < len(text); i++ {
		if state = a.step(state, text[i]); state == 0 {
			return out
		}
		if a.code[state+1] != 0 {
			out = a.report(n, state, from, i+1, out)
		}
	}
	return out
}
