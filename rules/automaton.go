package rules

// automaton finds every occurrence of a set of byte strings in one pass
// over a text (Aho–Corasick), so matching cost grows with the text, not
// with the number of terms.
type automaton struct {
	root  [256]int32 // transitions out of the root, 0 when none
	nodes []acNode
}

type acNode struct {
	edges []acEdge // sorted by byte
	fail  int32
	out   []int32 // patterns ending here, including those of fail nodes
}

type acEdge struct {
	b    byte
	next int32
}

func (n *acNode) child(b byte) int32 {
	for _, e := range n.edges {
		if e.b == b {
			return e.next
		}
		if e.b > b {
			break
		}
	}
	return 0
}

// newAutomaton builds the automaton for pats; pattern i is reported as i.
// Empty patterns are ignored.
func newAutomaton(pats []string) *automaton {
	a := &automaton{nodes: []acNode{{}}}
	for i, p := range pats {
		if p == "" {
			continue
		}
		cur := int32(0)
		for k := 0; k < len(p); k++ {
			next := a.nodes[cur].child(p[k])
			if next == 0 {
				next = int32(len(a.nodes))
				a.nodes = append(a.nodes, acNode{})
				n := &a.nodes[cur]
				pos := 0
				for pos < len(n.edges) && n.edges[pos].b < p[k] {
					pos++
				}
				n.edges = append(n.edges, acEdge{})
				copy(n.edges[pos+1:], n.edges[pos:])
				n.edges[pos] = acEdge{p[k], next}
			}
			cur = next
		}
		a.nodes[cur].out = append(a.nodes[cur].out, int32(i))
	}
	for _, e := range a.nodes[0].edges {
		a.root[e.b] = e.next
	}
	// Breadth-first: a node's fail link points at the longest proper
	// suffix of its path that is also a path from the root.
	queue := make([]int32, 0, len(a.nodes))
	for _, e := range a.nodes[0].edges {
		queue = append(queue, e.next)
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, e := range a.nodes[cur].edges {
			f := a.nodes[cur].fail
			for f != 0 && a.nodes[f].child(e.b) == 0 {
				f = a.nodes[f].fail
			}
			target := a.step(f, e.b)
			if target == e.next {
				target = 0
			}
			a.nodes[e.next].fail = target
			if out := a.nodes[target].out; len(out) > 0 {
				merged := make([]int32, 0, len(a.nodes[e.next].out)+len(out))
				merged = append(merged, a.nodes[e.next].out...)
				a.nodes[e.next].out = append(merged, out...)
			}
			queue = append(queue, e.next)
		}
	}
	return a
}

func (a *automaton) step(state int32, b byte) int32 {
	if state == 0 {
		return a.root[b]
	}
	return a.nodes[state].child(b)
}

// scan calls fn for every occurrence of a pattern in text with the pattern
// and the offset just past its end.
func (a *automaton) scan(text string, fn func(pat int, end int)) {
	state := int32(0)
	for i := 0; i < len(text); i++ {
		b := text[i]
		for {
			next := a.step(state, b)
			if next != 0 || state == 0 {
				state = next
				break
			}
			state = a.nodes[state].fail
		}
		for _, p := range a.nodes[state].out {
			fn(int(p), i+1)
		}
	}
}
