package store

import "time"

// DeliveryRef is what a store hands the delivery engine of an open
// delivery when it owns every delivery (the single-node store): enough to
// schedule it. The message stays in the store and is read by id when an
// attempt starts, so a large backlog costs little memory.
type DeliveryRef struct {
	ID       string
	Pipeline string
	Target   string
	Mode     string
	Branch   string
	// Attempts counts the attempts recorded so far.
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// Settlement is a state change of an owned delivery that the store writes
// in its next group commit: an attempt's result, or, with Attempt.N 0, a
// change without an attempt (a SUPERSEDED delivery replaced by a newer
// one). Attempt.Error becomes the delivery's last error either way.
type Settlement struct {
	Attempt
	State         string
	NextAttemptAt time.Time
}
