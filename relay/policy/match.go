package policy

import "unicode/utf8"

// match reports whether s matches pattern, in which '*' stands for any
// run of characters (also none) and '?' for exactly one character; every
// other character stands for itself. Both are UTF-8 and matched per code
// point, bytes of invalid UTF-8 one by one.
//
// The scan remembers only the last '*' seen: when the text after it fails
// to match, that star absorbs one more character and the scan resumes.
// Earlier stars never need to be revisited (whatever an earlier star
// could absorb, the last one can absorb as well), so the time is at most
// len(s) × len(pattern) whatever the pattern: no exponential backtracking
// as "a*a*a*a*b" would cause in a naive recursive matcher.
func match(pattern, s string) bool {
	p, i := 0, 0
	star, resume := -1, 0 // position after the last '*', and where s resumes
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				p++
				star, resume = p, i
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[i:])
				p, i = p+1, i+n
				continue
			}
			_, pn := utf8.DecodeRuneInString(pattern[p:])
			_, sn := utf8.DecodeRuneInString(s[i:])
			if pn == sn && pattern[p:p+pn] == s[i:i+sn] {
				p, i = p+pn, i+sn
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[resume:])
		resume += n
		p, i = star, resume
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
