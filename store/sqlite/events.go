package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/forgelink/forgelink/store"
)

const eventColumns = "id, connection_id, provider, delivery_id, kind, raw_kind, repository, held, received_at, headers, body, normalized, routed"

const insertEventSQL = "INSERT INTO events (" + eventColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connection_id, delivery_id) DO NOTHING"

// maxBatch bounds one group commit. Larger batches amortise the fsync
// further but hold every request in the batch for the whole transaction.
const maxBatch = 256

// eventWrite is one RecordEvent call waiting for its batch to commit.
type eventWrite struct {
	ev   store.Event
	done chan eventResult
}

type eventResult struct {
	duplicate bool
	err       error
}

// RecordEvent durably stores e; it returns when the transaction holding it
// has committed (fsynced: synchronous=FULL). duplicate reports that the
// connection already has an event with e's delivery id; nothing is written
// then. Concurrent calls share transactions (group commit), which is what
// makes durable ingestion fast.
func (s *Store) RecordEvent(ctx context.Context, e store.Event) (duplicate bool, err error) {
	// select picks at random among ready cases, so an idle writer would
	// otherwise take the event of a caller that has already given up.
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("record event: %w", err)
	}
	w := &eventWrite{ev: e, done: make(chan eventResult, 1)}
	select {
	case s.events <- w:
	case <-s.closing:
		return false, errors.New("record event: store closed")
	case <-ctx.Done():
		return false, fmt.Errorf("record event: %w", ctx.Err())
	}
	// Once queued, the write happens whatever the caller does; waiting for
	// the result keeps the caller's answer truthful.
	r := <-w.done
	if r.err != nil {
		return false, fmt.Errorf("record event %s: %w", e.DeliveryID, r.err)
	}
	return r.duplicate, nil
}

// writeEvents is the single goroutine that commits event batches and, in
// the same transactions, the delivery engine's settlements (one fsync for
// both). It exits when closing is closed and both queues are drained.
func (s *Store) writeEvents() {
	defer close(s.eventsDone)
	linger := time.NewTimer(0)
	<-linger.C
	for {
		var batch []*eventWrite
		select {
		case first := <-s.events:
			batch = s.collect(first)
		case <-s.settleReady:
			// Settlements alone wait a little for events to ride with, or
			// for more settlements: nothing waits for them, and a commit
			// costs an fsync and a page write per index touched.
			linger.Reset(settleLinger)
			select {
			case first := <-s.events:
				linger.Stop()
				batch = s.collect(first)
			case <-linger.C:
			case <-s.closing:
				linger.Stop()
			}
		case <-s.closing:
			s.drainEvents()
			return
		}
		s.commitBatch(batch, s.takeSettles())
	}
}

// settleLinger is how long settlements wait for events to share their
// commit: at most that much more is repeated after a crash.
const settleLinger = 5 * time.Millisecond

// collect takes whatever else is already queued, up to maxBatch.
func (s *Store) collect(first *eventWrite) []*eventWrite {
	batch := []*eventWrite{first}
	for len(batch) < maxBatch {
		select {
		case w := <-s.events:
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

func (s *Store) drainEvents() {
	for {
		var batch []*eventWrite
		select {
		case w := <-s.events:
			batch = s.collect(w)
		default:
		}
		settles := s.takeSettles()
		if len(batch) == 0 && len(settles) == 0 {
			return
		}
		s.commitBatch(batch, settles)
	}
}

// commitBatch writes events and settlements in one transaction, then hands
// the new deliveries to the owner. If the batch fails as a whole, each
// event and each settlement is retried alone, so that one bad row fails
// only its own request.
func (s *Store) commitBatch(batch []*eventWrite, settles []*settleWrite) {
	if len(batch) == 0 && len(settles) == 0 {
		return
	}
	dups := make([]bool, len(batch))
	var (
		owner Owner
		due   []store.DeliveryRef
	)
	err := s.writeThen(context.Background(), func(tx *sql.Tx) error {
		owner, due = s.currentOwner(), due[:0]
		stmt := tx.Stmt(s.insertEvent)
		defer stmt.Close()
		ins := newDeliveryInserter(tx, s.insertDelivery)
		defer ins.close()
		var err error
		for i, w := range batch {
			if dups[i], err = insertEvent(stmt, w.ev); err != nil {
				return err
			}
			if dups[i] {
				continue
			}
			if err := ins.insert(w.ev.Deliveries, w.ev.ReceivedAt.UnixNano()); err != nil {
				return err
			}
			due = appendRefs(due, w.ev.Deliveries, w.ev.ReceivedAt)
		}
		return s.writeSettles(tx, settles)
	}, func() {
		if owner != nil && len(due) > 0 {
			owner.Due(due)
		}
	})
	if err != nil && len(batch)+len(settles) > 1 {
		for _, w := range batch {
			s.commitBatch([]*eventWrite{w}, nil)
		}
		for _, w := range settles {
			s.commitBatch(nil, []*settleWrite{w})
		}
		return
	}
	for i, w := range batch {
		w.done <- eventResult{duplicate: dups[i], err: err}
	}
	if len(settles) > 0 {
		// The engine logs and counts in done: not on the writer's time.
		s.settleDones.Add(1)
		go func() {
			defer s.settleDones.Done()
			for _, w := range settles {
				w.done(err)
			}
		}()
	}
}

// appendRefs appends what the delivery engine schedules of new deliveries,
// due at once.
func appendRefs(refs []store.DeliveryRef, ds []store.Delivery, at time.Time) []store.DeliveryRef {
	for _, d := range ds {
		refs = append(refs, store.DeliveryRef{ID: d.ID, Pipeline: d.Pipeline, Target: d.Target, Mode: d.Mode, Branch: d.Branch,
			NextAttemptAt: at, CreatedAt: at})
	}
	return refs
}

func insertEvent(stmt *sql.Stmt, e store.Event) (duplicate bool, err error) {
	res, err := stmt.Exec(e.ID, e.ConnectionID, e.Provider, e.DeliveryID, e.Kind, e.RawKind, e.Repository,
		e.Held, e.ReceivedAt.UnixNano(), string(e.Headers), e.Body, string(e.Normalized), e.Routed)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 0, err
}

// GetEvent returns one event with its body.
func (s *Store) GetEvent(ctx context.Context, id string) (store.Event, error) {
	e, err := scanEvent(s.r.QueryRowContext(ctx, "SELECT "+eventColumns+" FROM events WHERE id = ?", id))
	if err != nil {
		return store.Event{}, fmt.Errorf("event %s: %w", id, notFound(err))
	}
	return e, nil
}

func scanEvent(row scanner) (store.Event, error) {
	var (
		e                   store.Event
		received            int64
		headers, normalized string
	)
	err := row.Scan(&e.ID, &e.ConnectionID, &e.Provider, &e.DeliveryID, &e.Kind, &e.RawKind, &e.Repository,
		&e.Held, &received, &headers, &e.Body, &normalized, &e.Routed)
	if err != nil {
		return store.Event{}, err
	}
	e.ReceivedAt = fromNanos(received)
	e.Headers, e.Normalized = []byte(headers), []byte(normalized)
	return e, nil
}
