package command

import (
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	long := strings.Repeat("0123456789", 1000)
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"empty", nil, ""},
		{"short", []string{"hello ", "world"}, "hello world"},
		{"exactly full", []string{long[:maxOutput-1], "x"}, long[:maxOutput-1] + "x"},
		{"one over", []string{long[:maxOutput], "x"}, long[1:maxOutput] + "x"},
		{"one large write", []string{long}, long[len(long)-maxOutput:]},
		{"large write after a small one", []string{"abc", long}, long[len(long)-maxOutput:]},
		{"many small writes", strings.SplitAfter(long, "9"), long[len(long)-maxOutput:]},
		{"wraps twice", []string{long[:3000], long[3000:6000], long[6000:9000]}, long[9000-maxOutput : 9000]},
		// "é" is two bytes; the cut leaves half of the first one.
		{"cut character", []string{strings.Repeat("é", maxOutput/2) + "!"}, strings.Repeat("é", maxOutput/2-1) + "!"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out tail
			for _, w := range tc.writes {
				if n, err := out.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := out.String(); got != tc.want {
				t.Fatalf("String() = %d bytes %.40q..., want %d bytes %.40q...", len(got), got, len(tc.want), tc.want)
			}
		})
	}
}
