package store

import (
	"errors"
	"testing"
	"time"
)

func TestIDBefore(t *testing.T) {
	cutoff := time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)
	bound := PruneRequest{Before: cutoff}.IDBefore()
	for _, tc := range []struct {
		at    time.Time
		below bool
	}{
		{time.Unix(0, 0), true},
		{cutoff.Add(-365 * 24 * time.Hour), true},
		{cutoff.Add(-time.Millisecond), true},
		{cutoff.Add(EventIDSkew), true}, // an id taken up to the skew after ReceivedAt
		{cutoff.Add(EventIDSkew + 2*time.Millisecond), false},
		{cutoff.Add(24 * time.Hour), false},
	} {
		id, err := NewEventID(tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := id < bound; got != tc.below {
			t.Errorf("event id %s of %v < bound %s = %v, want %v", id, tc.at, bound, got, tc.below)
		}
	}
}

func TestPruneRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		req  PruneRequest
		want error
	}{
		{PruneRequest{Before: time.Now(), Limit: 1}, nil},
		{PruneRequest{BySize: true, Limit: 500}, nil},
		{PruneRequest{Limit: 500}, ErrNotPrunable},
		{PruneRequest{Before: time.Now()}, ErrNotPrunable},
		{PruneRequest{BySize: true, Limit: -1}, ErrNotPrunable},
	} {
		if err := tc.req.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("Validate(%+v) = %v, want %v", tc.req, err, tc.want)
		}
	}
}
