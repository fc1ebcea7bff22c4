package glob

import "unicode/utf8"

// invalidByte stands for a byte that is not UTF-8 in a matched string.
const invalidByte rune = -1

// smallProg bounds the programs whose state lists fit on the stack.
const smallProg = 32

// run matches s against the program between the literal prefix and
// suffix. It keeps the set of live instructions and advances all of them
// per character (Thompson's construction), so no input makes it
// backtrack.
func (p *Pattern) run(s string) bool {
	n := len(p.prog)
	var stampBuf [smallProg]uint32
	var listBuf [2 * smallProg]int32
	stamp, lists := stampBuf[:], listBuf[:]
	if n > smallProg {
		stamp, lists = make([]uint32, n), make([]int32, 2*n)
	}
	m := machine{prog: p.prog, stamp: stamp[:n], gen: 1}
	cur, next := m.add(lists[:0:n], p.prefixLen), lists[n:n:2*n]
	for len(s) > 0 {
		if len(cur) == 0 {
			return false
		}
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			// An invalid byte is a character no literal or class names,
			// as the byte-wise prefix check already treats it.
			r = invalidByte
		}
		s = s[size:]
		m.gen++
		next = next[:0]
		for _, pc := range cur {
			next = m.step(next, int(pc), r)
		}
		cur, next = next, cur
	}
	for _, pc := range cur {
		if int(pc) == p.suffixStart {
			return true
		}
	}
	return false
}

type machine struct {
	prog []inst
	// stamp[pc] == gen: pc is on the list being built.
	stamp []uint32
	gen   uint32
}

// add puts pc on list, following the instructions that consume nothing.
func (m *machine) add(list []int32, pc int) []int32 {
	if m.stamp[pc] == m.gen {
		return list
	}
	m.stamp[pc] = m.gen
	switch in := &m.prog[pc]; in.op {
	case opSplit:
		for _, alt := range in.alts {
			list = m.add(list, alt)
		}
	case opJump:
		list = m.add(list, in.to)
	case opStar, opAnyStar:
		// A star may also match nothing.
		list = m.add(append(list, int32(pc)), pc+1)
	default:
		list = append(list, int32(pc))
	}
	return list
}

// step adds to next what instruction pc leads to after reading r.
func (m *machine) step(next []int32, pc int, r rune) []int32 {
	in := &m.prog[pc]
	switch in.op {
	case opRune:
		if r == in.r {
			return m.add(next, pc+1)
		}
	case opOne:
		if r != '/' {
			return m.add(next, pc+1)
		}
	case opClass:
		if in.class.has(r) {
			return m.add(next, pc+1)
		}
	case opStar:
		if r != '/' {
			return m.add(next, pc)
		}
	case opAnyStar:
		return m.add(next, pc)
	}
	return next
}
