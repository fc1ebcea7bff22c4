package command

import "unicode/utf8"

// maxOutput bounds the program output kept in Result.Output.
const maxOutput = 4 << 10

// tail keeps the last maxOutput bytes written to it.
type tail struct {
	buf     [maxOutput]byte
	written int64
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	skip := max(n-len(t.buf), 0)
	at := int((t.written + int64(skip)) % int64(len(t.buf)))
	copied := copy(t.buf[at:], p[skip:])
	copy(t.buf[:], p[skip+copied:])
	t.written += int64(n)
	return n, nil
}

// String returns the tail, without the remains of a character cut at its
// start.
func (t *tail) String() string {
	if t.written <= int64(len(t.buf)) {
		return string(t.buf[:t.written])
	}
	at := int(t.written % int64(len(t.buf)))
	s := string(t.buf[at:]) + string(t.buf[:at])
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0 && !utf8.RuneStart(s[0]); i++ {
		s = s[1:]
	}
	return s
}
