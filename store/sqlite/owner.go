package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/forgelink/forgelink/store"
)

// Owner is the delivery engine of the one process that owns this store's
// deliveries (dispatch.Owner). The store hands it every delivery that
// becomes due, once the transaction that made it due has committed, and
// asks it before a delivery is discarded.
type Owner interface {
	// Due schedules deliveries; it must not block on the store.
	Due(refs []store.DeliveryRef)
	// Withdraw unschedules a delivery about to be discarded; false: the
	// delivery is in flight, and the discard is refused.
	Withdraw(id string) bool
}

// ErrClosed: the store is closed.
var ErrClosed = errors.New("store closed")

// Own makes o the owner of the store's deliveries: every unfinished one
// (pending, or leased by a process before this one) is handed to it now,
// and every one that becomes due later once its transaction commits. A
// later Own replaces o.
//
// The scan runs in a write transaction and the owner is read inside each
// writing transaction, so every delivery is handed over exactly once:
// by the scan if it committed before, by its own transaction after. Each
// hand-off happens before the writer's connection is free again
// (writeThen), so no later write (a discard) can come between a commit
// and its hand-off.
func (s *Store) Own(ctx context.Context, o Owner) error {
	var refs []store.DeliveryRef
	err := s.writeThen(ctx, func(tx *sql.Tx) error {
		var err error
		refs, err = queryAll(ctx, tx, scanRef, "SELECT "+refColumns+" FROM deliveries WHERE state IN ('pending', 'leased')")
		if err != nil {
			return err
		}
		s.owner.Store(&o)
		return nil
	}, func() { o.Due(refs) })
	if err != nil {
		return fmt.Errorf("own deliveries: %w", err)
	}
	return nil
}

// currentOwner is the owner, nil when none. Called inside a write
// transaction, so that no Own runs in between.
func (s *Store) currentOwner() Owner {
	if o := s.owner.Load(); o != nil {
		return *o
	}
	return nil
}

const refColumns = "id, pipeline, target, mode, branch, attempts, next_attempt_at, created_at"

func scanRef(row scanner) (store.DeliveryRef, error) {
	var (
		r             store.DeliveryRef
		next, created int64
	)
	if err := row.Scan(&r.ID, &r.Pipeline, &r.Target, &r.Mode, &r.Branch, &r.Attempts, &next, &created); err != nil {
		return r, err
	}
	r.NextAttemptAt, r.CreatedAt = fromNanos(next), fromNanos(created)
	return r, nil
}

// settleWrite is one Settle call waiting for the writer.
type settleWrite struct {
	changes []store.Settlement
	done    func(error)
}

// Settle queues state changes of owned deliveries for the writer's next
// group commit, with whatever events are waiting, and calls done once they
// are written. It never waits for the writer.
func (s *Store) Settle(changes []store.Settlement, done func(error)) {
	s.settleMu.Lock()
	if s.settleClosed {
		s.settleMu.Unlock()
		done(fmt.Errorf("settle deliveries: %w", ErrClosed))
		return
	}
	s.settles = append(s.settles, &settleWrite{changes: changes, done: done})
	s.settleMu.Unlock()
	select {
	case s.settleReady <- struct{}{}:
	default: // a signal is pending already
	}
}

// takeSettles takes every queued settlement.
func (s *Store) takeSettles() []*settleWrite {
	s.settleMu.Lock()
	defer s.settleMu.Unlock()
	ws := s.settles
	s.settles = nil
	return ws
}

// closeSettles refuses settlements from now on; the writer drains those
// already queued.
func (s *Store) closeSettles() {
	s.settleMu.Lock()
	s.settleClosed = true
	s.settleMu.Unlock()
}

// writeSettles records attempts and moves their deliveries on. A delivery
// no longer open (discarded meanwhile) keeps its state; the attempt is
// recorded all the same.
func (s *Store) writeSettles(tx *sql.Tx, ws []*settleWrite) error {
	if len(ws) == 0 {
		return nil
	}
	insert, update := tx.Stmt(s.insertAttempt), tx.Stmt(s.settleDelivery)
	defer insert.Close()
	defer update.Close()
	now := s.now().UnixNano()
	for _, w := range ws {
		for _, c := range w.changes {
			if c.N > 0 {
				if err := execAttempt(insert, c.Attempt); err != nil {
					return err
				}
			}
			if _, err := update.Exec(c.State, c.N, c.NextAttemptAt.UnixNano(), c.Error, now, c.DeliveryID); err != nil {
				return fmt.Errorf("settle delivery %s: %w", c.DeliveryID, err)
			}
		}
	}
	return nil
}

const insertAttemptSQL = `INSERT INTO delivery_attempts (delivery_id, n, started_at, duration_ns, outcome, status_code, exit_status, error, output)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, n) DO NOTHING`

// settleDeliverySQL moves an open delivery on; a lease left by an older
// process is cleared with it.
const settleDeliverySQL = `UPDATE deliveries SET state = ?, attempts = MAX(attempts, ?), next_attempt_at = ?, lease_owner = '', lease_until = 0,
	last_error = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'leased')`

func execAttempt(insert *sql.Stmt, a store.Attempt) error {
	var exit sql.NullInt64
	if a.ExitStatus != nil {
		exit = sql.NullInt64{Int64: int64(*a.ExitStatus), Valid: true}
	}
	_, err := insert.Exec(a.DeliveryID, a.N, a.StartedAt.UnixNano(), int64(a.Duration), a.Outcome, a.StatusCode, exit, a.Error, a.Output)
	if err != nil {
		return fmt.Errorf("record attempt %d of %s: %w", a.N, a.DeliveryID, err)
	}
	return nil
}

const readDeliverySQL = "SELECT " + deliveryColumns + " FROM deliveries WHERE id = ?"

// Delivery reads one delivery, with its message, from the read pool
// through a statement prepared once per connection: the engine reads
// each delivery's row as its attempt starts.
func (s *Store) Delivery(ctx context.Context, id string) (store.Delivery, error) {
	d, err := scanDelivery(s.readDelivery.QueryRowContext(ctx, id))
	if err != nil {
		return store.Delivery{}, fmt.Errorf("delivery %s: %w", id, notFound(err))
	}
	return d, nil
}

// CompleteOwnedFiles replaces the message of an open delivery with
// message, whose changed-file list the delivery engine completed, and
// clears files_incomplete. A delivery that is no longer open is left as
// it is (ErrUnavailable; ErrNotFound for an unknown id).
func (s *Store) CompleteOwnedFiles(ctx context.Context, id string, message []byte) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET message = ?, files_incomplete = 0, updated_at = ?
			WHERE id = ? AND state IN ('pending', 'leased')`, string(message), now, id)
		return stateError(ctx, tx, id, res, err)
	})
	if err != nil {
		return fmt.Errorf("complete files of delivery %s: %w", id, err)
	}
	return nil
}

// stateError turns an update of delivery id that matched nothing into
// ErrNotFound (no such delivery) or ErrUnavailable (not in a state the
// update accepts).
func stateError(ctx context.Context, tx *sql.Tx, id string, res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	return whyNot(ctx, tx, id)
}

// whyNot says why a state change matched no row of delivery id.
func whyNot(ctx context.Context, tx *sql.Tx, id string) error {
	var state string
	if err := tx.QueryRowContext(ctx, "SELECT state FROM deliveries WHERE id = ?", id).Scan(&state); err != nil {
		return notFound(err)
	}
	return fmt.Errorf("delivery is %s: %w", state, store.ErrUnavailable)
}
