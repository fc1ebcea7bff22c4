package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// Source gives the engine the deliveries to attempt and takes their
// results. Two kinds exist: the Owner, for a single-node store whose
// process owns every delivery (scheduled in memory), and the Claimer, for
// a store that replicas share (claimed under leases).
type Source interface {
	// Take returns due deliveries, at most req.Limits[target] of each
	// target; Attempts counts the attempt about to start. Load completes
	// each (its message) before its attempt.
	Take(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error)
	// Load reads what Take left out of d. An error: d is not attempted
	// now (it was handed back, or is gone).
	Load(ctx context.Context, d *store.Delivery) error
	// Settle records attempts' results. It may return before they are
	// written; done is called once they are (or failed to be).
	Settle(results []store.AttemptResult, done func(error))
	// CompleteDeliveryFiles replaces the message of a delivery in flight
	// with one whose changed-file list is complete.
	CompleteDeliveryFiles(ctx context.Context, id, owner string, attempt int, message []byte) error
	// Release hands back a delivery Take gave that will not be attempted
	// now (a reload removed its target in between).
	Release(d store.Delivery)
	// Listen calls wake when deliveries may have become due elsewhere
	// (another replica), until ctx ends.
	Listen(ctx context.Context, wake func())
}

// Store is what the Claimer needs from a shared store.
type Store interface {
	ClaimDeliveries(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error)
	CompleteAttempts(ctx context.Context, results []store.AttemptResult) error
	// CompleteDeliveryFiles replaces the message of a delivery leased to
	// owner for attempt with one whose changed-file list is complete.
	CompleteDeliveryFiles(ctx context.Context, id, owner string, attempt int, message []byte) error
}

// Claimer is the Source of a shared store: replicas claim due deliveries
// under a lease. Results are written in the background, up to
// claimerWrites batches at once, so that a slot is free again while its
// result is written: the lease keeps the delivery from being claimed
// again meanwhile.
type Claimer struct {
	store  Store
	writes chan struct{} // a token per batch being written
}

// claimerWrites bounds the result batches written at once.
const claimerWrites = 2

// NewClaimer returns the source of a shared store.
func NewClaimer(st Store) *Claimer {
	return &Claimer{store: st, writes: make(chan struct{}, claimerWrites)}
}

// Listener is a shared store that tells when a delivery becomes pending
// on any replica (PostgreSQL LISTEN/NOTIFY).
type Listener interface {
	ListenDeliveries(ctx context.Context, wake func())
}

// Listen listens if the store can; else the engine's poll finds what
// other replicas made due.
func (c *Claimer) Listen(ctx context.Context, wake func()) {
	if l, ok := c.store.(Listener); ok {
		l.ListenDeliveries(ctx, wake)
	}
}

// Take claims due deliveries.
func (c *Claimer) Take(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error) {
	return c.store.ClaimDeliveries(ctx, req)
}

// Load has nothing to do: a claim reads whole rows.
func (*Claimer) Load(context.Context, *store.Delivery) error { return nil }

// Settle writes the results in the background, then calls done; it waits
// only while claimerWrites batches are being written already.
func (c *Claimer) Settle(results []store.AttemptResult, done func(error)) {
	c.writes <- struct{}{}
	go func() {
		err := c.store.CompleteAttempts(context.Background(), results)
		<-c.writes
		done(err)
	}()
}

// CompleteDeliveryFiles records a completed message under the lease.
func (c *Claimer) CompleteDeliveryFiles(ctx context.Context, id, owner string, attempt int, message []byte) error {
	return c.store.CompleteDeliveryFiles(ctx, id, owner, attempt, message)
}

// Release leaves the delivery to its lease, after which it is claimed
// again.
func (*Claimer) Release(store.Delivery) {}

// OwnerStore is what the Owner needs from a store that hands it every
// delivery (store/sqlite).
type OwnerStore interface {
	// Delivery reads a delivery with its message; store.ErrNotFound when
	// it is gone.
	Delivery(ctx context.Context, id string) (store.Delivery, error)
	// Settle queues state changes for the store's next group commit and
	// calls done once they are written.
	Settle(changes []store.Settlement, done func(error))
	// CompleteOwnedFiles replaces an open delivery's message with one
	// whose changed-file list is complete.
	CompleteOwnedFiles(ctx context.Context, id string, message []byte) error
}

// Owner is the Source of a single-node store, which owns every delivery:
// the store hands it the deliveries that become due (Due) once their
// transaction commits, and asks it before one is discarded (Withdraw).
// Leases are implicit: nothing is written before an attempt, and a
// result rides the store's next group commit; the attempt number is
// counted here and written with the result.
type Owner struct {
	store OwnerStore
	log   *zap.Logger

	mu    sync.Mutex
	sched *scheduler
	// The engine's Wake and clock, set by New before the store hands
	// anything.
	wake func()
	now  func() time.Time
}

// NewOwner returns an owner with nothing scheduled. Give it to an Engine
// (Options.Source), then register it with the store, which hands it the
// unfinished deliveries.
func NewOwner(st OwnerStore, log *zap.Logger) *Owner {
	return &Owner{store: st, log: log, sched: newScheduler(), wake: func() {}, now: time.Now}
}

// Due schedules deliveries that became due: new, released, redelivered,
// or unfinished at start. It never blocks on the store.
func (o *Owner) Due(refs []store.DeliveryRef) {
	o.mu.Lock()
	o.sched.add(refs...)
	o.mu.Unlock()
	o.wake()
}

// Withdraw unschedules a delivery about to be discarded; false: it is in
// flight and cannot be.
func (o *Owner) Withdraw(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sched.withdraw(id)
}

// Open is how many deliveries are scheduled or in flight.
func (o *Owner) Open() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sched.open()
}

// ownerRetry is when a delivery whose message could not be read is tried
// again.
const ownerRetry = time.Second

// Take takes due deliveries from the schedule, without reading anything:
// each attempt reads its own row (Load), so that the engine's loop never
// waits for the store and the reads run side by side on the read pool.
func (o *Owner) Take(_ context.Context, req store.ClaimRequest) ([]store.Delivery, error) {
	var refs, superseded []store.DeliveryRef
	o.mu.Lock()
	for target, n := range req.Limits {
		if n > 0 {
			t := o.sched.take(req.Now, target, n)
			refs, superseded = append(refs, t.refs...), append(superseded, t.superseded...)
		}
	}
	o.mu.Unlock()
	o.supersede(superseded, req.Now)
	ds := make([]store.Delivery, len(refs))
	for i, r := range refs {
		ds[i] = store.Delivery{ID: r.ID, Pipeline: r.Pipeline, Target: r.Target, Mode: r.Mode, Branch: r.Branch,
			Attempts: r.Attempts, State: store.DeliveryLeased, NextAttemptAt: r.NextAttemptAt}
	}
	return ds, nil
}

// Load reads the delivery's row from the store's read pool, keeping the
// attempt number counted here. A row that cannot be read is handed back
// to the schedule for a second later; one that is gone is forgotten.
func (o *Owner) Load(ctx context.Context, d *store.Delivery) error {
	row, err := o.store.Delivery(ctx, d.ID)
	if err != nil {
		o.mu.Lock()
		if errors.Is(err, store.ErrNotFound) {
			o.sched.settle(d.ID, true, time.Time{})
		} else {
			o.sched.release(d.ID, o.now().Add(ownerRetry))
		}
		o.mu.Unlock()
		return fmt.Errorf("read delivery %s: %w", d.ID, err)
	}
	row.Attempts, row.State = d.Attempts, store.DeliveryLeased
	*d = row
	return nil
}

// Listen returns at once: the store hands this process every delivery.
func (o *Owner) Listen(context.Context, func()) {}

// Release schedules the delivery again, due at once, its attempt
// uncounted.
func (o *Owner) Release(d store.Delivery) {
	o.mu.Lock()
	o.sched.release(d.ID, d.NextAttemptAt)
	o.mu.Unlock()
}

// supersede records the deliveries a newer one replaced.
func (o *Owner) supersede(refs []store.DeliveryRef, now time.Time) {
	if len(refs) == 0 {
		return
	}
	changes := make([]store.Settlement, len(refs))
	for i, r := range refs {
		changes[i] = store.Settlement{
			Attempt: store.Attempt{DeliveryID: r.ID, Error: "superseded by a newer event on branch " + r.Branch},
			State:   store.DeliverySuperseded, NextAttemptAt: now,
		}
	}
	o.store.Settle(changes, func(err error) {
		if err != nil {
			o.log.Error("record superseded deliveries", zap.Int("deliveries", len(refs)), zap.Error(err))
		}
	})
}

// Settle updates the schedule at once (the slot and the pipeline's order
// are free before the result is durable: a result lost in a crash means
// one more attempt after the restart) and queues the results for the
// store's next group commit.
func (o *Owner) Settle(results []store.AttemptResult, done func(error)) {
	changes := make([]store.Settlement, len(results))
	o.mu.Lock()
	for i, r := range results {
		o.sched.settle(r.DeliveryID, r.State != store.DeliveryPending, r.NextAttemptAt)
		changes[i] = store.Settlement{Attempt: r.Attempt, State: r.State, NextAttemptAt: r.NextAttemptAt}
	}
	o.mu.Unlock()
	o.store.Settle(changes, done)
}

// CompleteDeliveryFiles records a completed message; the delivery is this
// process's, so no lease is checked.
func (o *Owner) CompleteDeliveryFiles(ctx context.Context, id, _ string, _ int, message []byte) error {
	return o.store.CompleteOwnedFiles(ctx, id, message)
}
