package glob

import (
	"fmt"
	"unicode/utf8"
)

// opcode is the kind of one instruction of a compiled pattern.
type opcode uint8

const (
	opRune    opcode = iota // one character equal to r
	opOne                   // '?': one character but '/'
	opClass                 // '[...]': one character of class
	opStar                  // '*': any characters but '/', then pc+1
	opAnyStar               // '**': any characters, then pc+1
	opSplit                 // '{': continue at every pc of alts
	opJump                  // end of an alternative: continue at to
	opMatch                 // the whole string matched
)

type inst struct {
	op    opcode
	r     rune
	class *class
	alts  []int
	to    int
}

// class is a bracket expression.
type class struct {
	negated bool
	ranges  []runeRange
}

type runeRange struct{ lo, hi rune }

func (c *class) has(r rune) bool {
	if r == '/' {
		return false
	}
	for _, rr := range c.ranges {
		if rr.lo <= r && r <= rr.hi {
			return !c.negated
		}
	}
	return c.negated
}

// compiler turns a pattern into instructions, one character at a time.
type compiler struct {
	src  string
	off  int // byte offset of the next character
	pos  int // 1-based position of the last character read
	prog []inst
	// group is the pc of the open group's split, -1 outside a group;
	// groupPos is where it opened; groupEnds are the jumps that end its
	// alternatives, patched at '}'.
	group     int
	groupPos  int
	groupEnds []int
}

func (c *compiler) compile() error {
	c.group = -1
	for c.off < len(c.src) {
		if err := c.element(c.next()); err != nil {
			return err
		}
	}
	if c.group >= 0 {
		return c.errorAt(c.groupPos, "unclosed '{'")
	}
	c.emit(inst{op: opMatch})
	return nil
}

func (c *compiler) next() rune {
	r, n := utf8.DecodeRuneInString(c.src[c.off:])
	c.off += n
	c.pos++
	return r
}

func (c *compiler) peek() (rune, bool) {
	if c.off == len(c.src) {
		return 0, false
	}
	r, _ := utf8.DecodeRuneInString(c.src[c.off:])
	return r, true
}

func (c *compiler) emit(in inst) int {
	c.prog = append(c.prog, in)
	return len(c.prog) - 1
}

func (c *compiler) errorAt(pos int, msg string) error {
	return &SyntaxError{Pattern: c.src, Pos: pos, Msg: msg}
}

// element compiles the construct that starts with r.
func (c *compiler) element(r rune) error {
	switch r {
	case '\\':
		escaped, ok := c.peek()
		if !ok {
			return c.errorAt(c.pos, "trailing '\\' escapes nothing")
		}
		c.next()
		c.emit(inst{op: opRune, r: escaped})
	case '?':
		c.emit(inst{op: opOne})
	case '*':
		c.star()
	case '[':
		return c.class()
	case '{':
		return c.openGroup()
	case ',', '}':
		if c.group < 0 {
			c.emit(inst{op: opRune, r: r})
		} else {
			c.endAlternative(r == '}')
		}
	default:
		c.emit(inst{op: opRune, r: r})
	}
	return nil
}

// star compiles '*', or '**' for two or more (a third adds nothing).
func (c *compiler) star() {
	op := opStar
	for r, ok := c.peek(); ok && r == '*'; r, ok = c.peek() {
		c.next()
		op = opAnyStar
	}
	c.emit(inst{op: op})
}

func (c *compiler) openGroup() error {
	if c.group >= 0 {
		return c.errorAt(c.pos, "nested '{' (groups cannot nest)")
	}
	c.group = c.emit(inst{op: opSplit})
	c.groupPos = c.pos
	c.prog[c.group].alts = []int{len(c.prog)}
	c.groupEnds = nil
	return nil
}

// endAlternative closes the current alternative at ',' (starting the
// next) or '}' (closing the group).
func (c *compiler) endAlternative(closing bool) {
	c.groupEnds = append(c.groupEnds, c.emit(inst{op: opJump}))
	if !closing {
		c.prog[c.group].alts = append(c.prog[c.group].alts, len(c.prog))
		return
	}
	for _, pc := range c.groupEnds {
		c.prog[pc].to = len(c.prog)
	}
	c.group = -1
}

const msgSlashInClass = "'/' in a character class (a class matches one character within a segment)"

// class compiles a bracket expression; '[' has been read.
func (c *compiler) class() error {
	open := c.pos
	cl := &class{}
	if r, ok := c.peek(); ok && r == '!' {
		c.next()
		cl.negated = true
	}
	if r, ok := c.peek(); ok && r == '-' {
		c.next()
		cl.ranges = append(cl.ranges, runeRange{'-', '-'})
	}
	for {
		r, ok := c.peek()
		if !ok {
			return c.errorAt(open, "unclosed '['")
		}
		c.next()
		switch {
		case r == ']' && len(cl.ranges) == 0:
			return c.errorAt(open, "empty character class")
		case r == ']':
			c.emit(inst{op: opClass, class: cl})
			return nil
		case r == '/':
			return c.errorAt(c.pos, msgSlashInClass)
		case r == '-':
			return c.errorAt(c.pos, "'-' in a character class must come first, last or between the ends of a range")
		}
		rr, err := c.rangeFrom(r, open)
		if err != nil {
			return err
		}
		cl.ranges = append(cl.ranges, rr...)
	}
}

// rangeFrom reads what follows lo in a class: "-hi" makes a range, "-]"
// a literal '-'.
func (c *compiler) rangeFrom(lo rune, open int) ([]runeRange, error) {
	if r, ok := c.peek(); !ok || r != '-' {
		return []runeRange{{lo, lo}}, nil
	}
	c.next()
	hi, ok := c.peek()
	switch {
	case !ok:
		return nil, c.errorAt(open, "unclosed '['")
	case hi == ']':
		return []runeRange{{lo, lo}, {'-', '-'}}, nil
	}
	c.next()
	switch {
	case hi == '/':
		return nil, c.errorAt(c.pos, msgSlashInClass)
	case hi < lo:
		return nil, c.errorAt(c.pos-2, fmt.Sprintf("invalid range %q (the end is before the start)", string(lo)+"-"+string(hi)))
	}
	return []runeRange{{lo, hi}}, nil
}
