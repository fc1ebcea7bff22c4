package store

import (
	"errors"
	"time"
)

// ErrConflict: the record changed between the read a write was based on
// and the write (optimistic concurrency); nothing was written.
var ErrConflict = errors.New("changed concurrently")

// CheckUnchanged is the optimistic-concurrency rule every store applies
// inside its write transaction, to the row it has read (and locked): the
// write goes ahead only if the row's UpdatedAt is still the one the caller
// read. A zero ifUpdatedAt asks for no check.
func CheckUnchanged(current, ifUpdatedAt time.Time) error {
	if ifUpdatedAt.IsZero() || current.Equal(ifUpdatedAt) {
		return nil
	}
	return ErrConflict
}

// NextUpdatedAt is the UpdatedAt (Unix nanoseconds) a write gives a row
// last written at prev: now, but always later than prev, so that UpdatedAt
// serves as the row's version even when two writes share a clock reading.
func NextUpdatedAt(prev time.Time, now int64) int64 {
	return max(now, prev.UnixNano()+1)
}
