package store

import (
	"errors"
	"testing"
	"time"
)

func TestCheckUnchanged(t *testing.T) {
	read := time.Unix(0, 1_000)
	for _, tc := range []struct {
		name    string
		current time.Time
		if_     time.Time
		want    error
	}{
		{"unchanged", read, read, nil},
		{"changed since", read.Add(1), read, ErrConflict},
		{"no check asked", read.Add(1), time.Time{}, nil},
		{"same instant, other zone", read.In(time.FixedZone("x", 3600)), read, nil},
	} {
		if err := CheckUnchanged(tc.current, tc.if_); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestNextUpdatedAt(t *testing.T) {
	prev := time.Unix(0, 5_000)
	for _, tc := range []struct {
		now, want int64
	}{
		{9_000, 9_000}, // the clock moved: now
		{5_000, 5_001}, // it did not: one past prev
		{4_000, 5_001}, // it stepped back: still forward
	} {
		if got := NextUpdatedAt(prev, tc.now); got != tc.want {
			t.Errorf("NextUpdatedAt(%d, %d) = %d, want %d", prev.UnixNano(), tc.now, got, tc.want)
		}
	}
}
