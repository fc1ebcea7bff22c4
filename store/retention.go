package store

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrNotPrunable: a prune request that asks for nothing (no age bound and
// not by size) or has no room for a batch. Stores refuse it rather than
// guess what was meant.
var ErrNotPrunable = errors.New("prune request selects nothing")

// PrunableStates are the delivery states whose event may be pruned: the
// delivery is finished and nothing will act on it again. Any other state
// (pending, leased, and states a later release adds) keeps the event; dead
// keeps it too unless PruneRequest.DeadBefore says otherwise. Both stores
// build their queries from this list, so the rule lives here only.
var PrunableStates = []string{DeliverySucceeded, DeliverySuperseded, DeliveryDiscarded, DeliveryFiltered}

// PruneRequest asks a store to delete one batch of events with their
// deliveries and attempts, oldest (lowest id) first, in one transaction.
// An event is pruned only when it is routed, not held, and every delivery
// of it is in PrunableStates, or dead since before DeadBefore.
type PruneRequest struct {
	// Before prunes events received before it. Event ids are UUID v7 of
	// their receipt, so stores look only at ids below IDBefore, a range of
	// the primary key whatever the table's size, and at the skewed events.
	Before time.Time
	// BySize ignores Before: the oldest prunable events go, whatever their
	// age (the store is over its size limit).
	BySize bool
	// DeadBefore lets an event whose dead deliveries died (were last
	// updated) before it be pruned; zero keeps every dead delivery.
	DeadBefore time.Time
	// After resumes a round after the last event id the previous batch
	// pruned, so events kept earlier in the round are not looked at again.
	After string
	Limit int
}

// Validate reports a request that selects nothing.
func (r PruneRequest) Validate() error {
	if r.Limit < 1 || (!r.BySize && r.Before.IsZero()) {
		return ErrNotPrunable
	}
	return nil
}

// IDBefore bounds the ids of the events received before Before that are
// not skewed (store.EventIDSkew): every such event has a lower id. Stores
// read the skewed ones from their own index.
func (r PruneRequest) IDBefore() string {
	_, hi := IDWindow(time.Time{}, r.Before)
	return hi
}

// NewEventID returns the id of an event received at at: a UUID v7 of that
// millisecond, which is what the age bound of PruneRequest relies on.
func NewEventID(at time.Time) (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	ms := at.UnixMilli()
	for i := 5; i >= 0; i-- {
		u[i] = byte(ms)
		ms >>= 8
	}
	return u.String(), nil
}

// PruneResult is what one batch removed. Bytes is the size of the removed
// rows' contents (bodies, headers, messages, attempt output), as the store
// counts them in Usage where it can (PostgreSQL), an estimate otherwise.
type PruneResult struct {
	Events     int
	Deliveries int
	Attempts   int
	Bytes      int64
	// Last is the id of the last event pruned, for PruneRequest.After;
	// empty when none was.
	Last string
}

// Usage is how much the store holds. Bytes is what a size limit applies
// to: SQLite's pages in use (the file, less its free pages), PostgreSQL's
// size of the rows' contents (its table files do not shrink on DELETE;
// autovacuum makes the space reusable).
type Usage struct {
	Bytes  int64
	Events int64
}
