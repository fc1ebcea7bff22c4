package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/forgelink/forgelink/store"
)

const deliveryColumns = "id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete, message, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at"

const insertDeliverySQL = "INSERT INTO deliveries (" + deliveryColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// deliveryInserter inserts deliveries in a transaction with the writer's
// statement, prepared once for the store's life.
type deliveryInserter struct {
	tx       *sql.Tx
	prepared *sql.Stmt
	stmt     *sql.Stmt
}

func newDeliveryInserter(tx *sql.Tx, prepared *sql.Stmt) *deliveryInserter {
	return &deliveryInserter{tx: tx, prepared: prepared}
}

func (d *deliveryInserter) insert(ds []store.Delivery, now int64) error {
	if len(ds) == 0 {
		return nil
	}
	if d.stmt == nil {
		d.stmt = d.tx.Stmt(d.prepared)
	}
	for _, x := range ds {
		if _, err := d.stmt.Exec(x.ID, x.EventID, x.ConnectionID, x.Pipeline, x.Target, x.Mode, x.Branch, x.FilesIncomplete,
			string(x.Message), store.DeliveryPending, 0, now, "", 0, "", now, now); err != nil {
			return fmt.Errorf("insert delivery: %w", err)
		}
	}
	return nil
}

func (d *deliveryInserter) close() {
	if d.stmt != nil {
		d.stmt.Close()
	}
}

func scanDelivery(row scanner) (store.Delivery, error) {
	var (
		d                                  store.Delivery
		message                            string
		next, leaseUntil, created, updated int64
	)
	err := row.Scan(&d.ID, &d.EventID, &d.ConnectionID, &d.Pipeline, &d.Target, &d.Mode, &d.Branch, &d.FilesIncomplete,
		&message, &d.State, &d.Attempts, &next, &d.LeaseOwner, &leaseUntil, &d.LastError, &created, &updated)
	if err != nil {
		return store.Delivery{}, err
	}
	d.Message = []byte(message)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromNanos(next), fromNanos(created), fromNanos(updated)
	if leaseUntil != 0 {
		d.LeaseUntil = fromNanos(leaseUntil)
	}
	return d, nil
}

// UnroutedEvents returns released events whose deliveries are not decided
// yet, oldest first.
func (s *Store) UnroutedEvents(ctx context.Context, limit int) ([]store.Event, error) {
	events, err := queryAll(ctx, s.r, scanEvent,
		"SELECT "+eventColumns+" FROM events WHERE routed = 0 AND held = 0 ORDER BY id LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("unrouted events: %w", err)
	}
	return events, nil
}

// RouteEvent writes an event's deliveries and marks it routed, at most once.
func (s *Store) RouteEvent(ctx context.Context, eventID string, ds []store.Delivery) error {
	now := s.now()
	var owner Owner
	err := s.writeThen(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE events SET routed = 1 WHERE id = ? AND routed = 0 AND held = 0", eventID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // routed already, or held again: nothing to do
		}
		owner = s.currentOwner()
		ins := newDeliveryInserter(tx, s.insertDelivery)
		defer ins.close()
		return ins.insert(ds, now.UnixNano())
	}, func() {
		if owner != nil && len(ds) > 0 {
			owner.Due(appendRefs(nil, ds, now))
		}
	})
	if err != nil {
		return fmt.Errorf("route event %s: %w", eventID, err)
	}
	return nil
}

// claimScan bounds how many due deliveries of one target a claim looks at.
const claimScan = 512

// minClaimPage is the smallest page of due deliveries a claim reads. A
// claim reads twice what it may lease (all of it is eligible in PARALLEL
// mode), and further pages, each twice as large, only while it has not
// found enough eligible ones, up to claimScan: reading claimScan rows to
// lease the one or two deliveries a finished attempt makes room for cost
// the delivery engine most of its CPU with a backlog.
const minClaimPage = 16

// ClaimDeliveries leases due deliveries, honouring each pipeline's
// execution mode: QUEUED pipelines release one delivery at a time, in id
// order; SUPERSEDED ones one per branch, the newest, superseding older
// waiting ones; PARALLEL ones any. A lease that expired (its daemon died) is
// due again.
//
// Each target is scanned on its own, and only for deliveries that are due
// (through indexes on next_attempt_at and lease_until), so neither another
// target's backlog nor this target's deliveries waiting out a backoff hide
// a due delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error) {
	var claimed []store.Delivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		c := &claim{ctx: ctx, tx: tx, now: req.Now.UnixNano(), heads: map[string]string{}, groups: map[string]group{}}
		for target, n := range req.Limits {
			if n <= 0 {
				continue
			}
			page := min(max(2*n, minClaimPage), claimScan)
			for offset := 0; n > 0 && offset < claimScan; offset, page = offset+page, page*2 {
				page = min(page, claimScan-offset)
				due, more, err := dueDeliveries(ctx, tx, target, c.now, offset, page)
				if err != nil {
					return err
				}
				for _, d := range due {
					if n == 0 {
						break
					}
					ok, err := c.eligible(d)
					if err != nil {
						return err
					}
					if ok {
						claimed, n = append(claimed, d), n-1
					}
				}
				if !more {
					break
				}
			}
		}
		var err error
		claimed, err = lease(ctx, tx, claimed, req)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return claimed, nil
}

// dueDeliveries returns one page of a target's due deliveries: up to limit
// pending ones in next_attempt_at order and as many whose lease expired, in
// lease_until order, each skipping offset, together in id order and without
// their messages (a claim reads messages only for what it leases). more
// reports that either list may go on past the page. Between the pages of
// one claim only the claim's own superseding changes these lists, and it
// only removes rows from them: a later page may then skip a row, which the
// next claim sees, but never shows one twice.
func dueDeliveries(ctx context.Context, tx *sql.Tx, target string, now int64, offset, limit int) (due []store.Delivery, more bool, err error) {
	columns := strings.Replace(deliveryColumns, "message", "'' AS message", 1)
	pending, err := queryAll(ctx, tx, scanDelivery, "SELECT "+columns+
		" FROM deliveries WHERE target = ? AND state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ? OFFSET ?", target, now, limit, offset)
	if err != nil {
		return nil, false, err
	}
	expired, err := queryAll(ctx, tx, scanDelivery, "SELECT "+columns+
		" FROM deliveries WHERE target = ? AND state = 'leased' AND lease_until <= ? ORDER BY lease_until LIMIT ? OFFSET ?", target, now, limit, offset)
	if err != nil {
		return nil, false, err
	}
	more = len(pending) == limit || len(expired) == limit
	due = append(pending, expired...)
	slices.SortFunc(due, func(a, b store.Delivery) int { return strings.Compare(a.ID, b.ID) })
	return due, more, nil
}

// claim is one ClaimDeliveries transaction's view of pipeline order.
type claim struct {
	ctx    context.Context
	tx     *sql.Tx
	now    int64
	heads  map[string]string // QUEUED: pipeline+target → id of its oldest open delivery
	groups map[string]group  // SUPERSEDED: pipeline+target+branch → its state
}

type group struct {
	newest string
	busy   bool // a delivery of the group is in flight
}

// eligible reports whether a due delivery may be leased under its
// pipeline's execution mode; in SUPERSEDED mode it supersedes what a newer
// delivery replaces.
func (c *claim) eligible(d store.Delivery) (bool, error) {
	switch d.Mode {
	case "QUEUED":
		head, err := c.head(d.Pipeline, d.Target)
		return head == d.ID, err
	case "SUPERSEDED":
		g, err := c.group(d.Pipeline, d.Target, d.Branch)
		if err != nil || g.busy {
			return false, err
		}
		if g.newest != d.ID {
			// A delivery whose lease expired (its daemon died) waits like a
			// pending one: the newer one replaces it too, or it would be
			// delivered after it.
			_, err := c.tx.ExecContext(c.ctx, `UPDATE deliveries SET state = ?, last_error = ?, updated_at = ?
				WHERE pipeline = ? AND target = ? AND branch = ? AND (state = 'pending' OR (state = 'leased' AND lease_until <= ?)) AND id < ?`,
				store.DeliverySuperseded, "superseded by a newer event on branch "+d.Branch, c.now, d.Pipeline, d.Target, d.Branch, c.now, g.newest)
			return false, err
		}
		return true, nil
	}
	return true, nil
}

// Order is kept per pipeline and target: after a reload moved a pipeline
// to another target, the old target's leftovers do not hold up the new one.
func (c *claim) head(pipeline, target string) (string, error) {
	key := pipeline + "\x00" + target
	if id, ok := c.heads[key]; ok {
		return id, nil
	}
	var id string
	err := c.tx.QueryRowContext(c.ctx, "SELECT id FROM deliveries WHERE pipeline = ? AND target = ? AND state IN ('pending', 'leased') ORDER BY id LIMIT 1",
		pipeline, target).Scan(&id)
	c.heads[key] = id
	return id, err
}

func (c *claim) group(pipeline, target, branch string) (group, error) {
	key := pipeline + "\x00" + target + "\x00" + branch
	if g, ok := c.groups[key]; ok {
		return g, nil
	}
	var g group
	// MAX, not SUM: busy scans as a bool, and a group may have several
	// deliveries in flight (a reload made a PARALLEL pipeline SUPERSEDED).
	err := c.tx.QueryRowContext(c.ctx, `SELECT MAX(id), COALESCE(MAX(CASE WHEN state = 'leased' AND lease_until > ? THEN 1 ELSE 0 END), 0)
		FROM deliveries WHERE pipeline = ? AND target = ? AND branch = ? AND state IN ('pending', 'leased')`,
		c.now, pipeline, target, branch).Scan(&g.newest, &g.busy)
	c.groups[key] = g
	return g, err
}

func lease(ctx context.Context, tx *sql.Tx, ds []store.Delivery, req store.ClaimRequest) ([]store.Delivery, error) {
	if len(ds) == 0 {
		return ds, nil
	}
	// Prepared once per claim, not once per leased delivery: SQLite
	// parsing was a sixth of the engine's CPU with a backlog.
	read, err := tx.PrepareContext(ctx, "SELECT message FROM deliveries WHERE id = ?")
	if err != nil {
		return nil, err
	}
	defer read.Close()
	update, err := tx.PrepareContext(ctx, "UPDATE deliveries SET state = ?, attempts = ?, lease_owner = ?, lease_until = ?, updated_at = ? WHERE id = ?")
	if err != nil {
		return nil, err
	}
	defer update.Close()
	for i := range ds {
		d := &ds[i]
		lease := req.Lease
		if l, ok := req.Leases[d.Target]; ok {
			lease = l
		}
		until := req.Now.Add(lease)
		if err := read.QueryRowContext(ctx, d.ID).Scan(&d.Message); err != nil {
			return nil, err
		}
		d.State, d.Attempts, d.LeaseOwner, d.LeaseUntil = store.DeliveryLeased, d.Attempts+1, req.Owner, until
		d.UpdatedAt = fromNanos(req.Now.UnixNano())
		if _, err := update.ExecContext(ctx, d.State, d.Attempts, d.LeaseOwner, until.UnixNano(), req.Now.UnixNano(), d.ID); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// CompleteAttempts records attempts and moves their deliveries on. A result
// whose lease was lost (another claim took the delivery after the lease
// expired) is recorded as an attempt but changes nothing else.
func (s *Store) CompleteAttempts(ctx context.Context, results []store.AttemptResult) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := newCompleter(ctx, tx, s.insertAttempt)
		if err != nil {
			return err
		}
		defer c.close()
		for _, r := range results {
			if err := c.complete(ctx, r, s.now().UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("complete attempts: %w", err)
	}
	return nil
}

// completer holds CompleteAttempts' two statements, prepared once per
// transaction rather than once per attempt.
type completer struct {
	insert, update *sql.Stmt
}

func newCompleter(ctx context.Context, tx *sql.Tx, insertAttempt *sql.Stmt) (*completer, error) {
	insert := tx.StmtContext(ctx, insertAttempt)
	update, err := tx.PrepareContext(ctx, `UPDATE deliveries SET state = ?, next_attempt_at = ?, lease_owner = '', lease_until = 0, last_error = ?, updated_at = ?
		WHERE id = ? AND state = ? AND lease_owner = ? AND attempts = ?`)
	if err != nil {
		insert.Close()
		return nil, err
	}
	return &completer{insert: insert, update: update}, nil
}

func (c *completer) close() {
	c.insert.Close()
	c.update.Close()
}

func (c *completer) complete(ctx context.Context, r store.AttemptResult, now int64) error {
	if err := execAttempt(c.insert, r.Attempt); err != nil {
		return err
	}
	_, err := c.update.ExecContext(ctx, r.State, r.NextAttemptAt.UnixNano(), r.Error, now, r.DeliveryID, store.DeliveryLeased, r.LeaseOwner, r.N)
	return err
}

// GetDelivery returns a delivery and its attempts, oldest first.
func (s *Store) GetDelivery(ctx context.Context, id string) (store.Delivery, []store.Attempt, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, "SELECT "+deliveryColumns+" FROM deliveries WHERE id = ?", id))
	if err != nil {
		return store.Delivery{}, nil, fmt.Errorf("delivery %s: %w", id, notFound(err))
	}
	attempts, err := queryAll(ctx, s.r, scanAttempt,
		"SELECT delivery_id, n, started_at, duration_ns, outcome, status_code, exit_status, error, output FROM delivery_attempts WHERE delivery_id = ? ORDER BY n", id)
	if err != nil {
		return store.Delivery{}, nil, fmt.Errorf("attempts of %s: %w", id, err)
	}
	return d, attempts, nil
}

func scanAttempt(row scanner) (store.Attempt, error) {
	var (
		a                 store.Attempt
		started, duration int64
		exit              sql.NullInt64
	)
	if err := row.Scan(&a.DeliveryID, &a.N, &started, &duration, &a.Outcome, &a.StatusCode, &exit, &a.Error, &a.Output); err != nil {
		return store.Attempt{}, err
	}
	a.StartedAt, a.Duration = fromNanos(started), time.Duration(duration)
	if exit.Valid {
		status := int(exit.Int64)
		a.ExitStatus = &status
	}
	return a, nil
}

// Redeliver makes a finished delivery pending again, due now, and hands
// it to the owner.
func (s *Store) Redeliver(ctx context.Context, id string) error {
	now := s.now().UnixNano()
	var (
		ref   store.DeliveryRef
		owner Owner
	)
	err := s.writeThen(ctx, func(tx *sql.Tx) error {
		owner = s.currentOwner()
		var err error
		ref, err = scanRef(tx.QueryRowContext(ctx, `UPDATE deliveries SET state = ?, next_attempt_at = ?, updated_at = ?
			WHERE id = ? AND state IN ('succeeded', 'dead', 'superseded', 'discarded', 'filtered') RETURNING `+refColumns,
			store.DeliveryPending, now, now, id))
		if errors.Is(err, sql.ErrNoRows) {
			return whyNot(ctx, tx, id)
		}
		return err
	}, func() {
		if owner != nil {
			owner.Due([]store.DeliveryRef{ref})
		}
	})
	if err != nil {
		return fmt.Errorf("redeliver %s: %w", id, err)
	}
	return nil
}

// Discard drops a pending or dead delivery. The owner gives a waiting one
// up first, so it is never sent; one in flight is refused.
func (s *Store) Discard(ctx context.Context, id string) error {
	var (
		ref       store.DeliveryRef
		owner     Owner
		withdrawn bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		ref, err = scanRef(tx.QueryRowContext(ctx, `UPDATE deliveries SET state = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'dead')
			RETURNING `+refColumns, store.DeliveryDiscarded, s.now().UnixNano(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return whyNot(ctx, tx, id)
		}
		if err != nil {
			return err
		}
		if owner = s.currentOwner(); owner != nil {
			if !owner.Withdraw(id) {
				return fmt.Errorf("delivery is in flight: %w", store.ErrUnavailable)
			}
			withdrawn = true
		}
		return nil
	})
	if err != nil && withdrawn {
		owner.Due([]store.DeliveryRef{ref}) // still pending: scheduled again
	}
	if err != nil {
		return fmt.Errorf("discard %s: %w", id, err)
	}
	return nil
}

// DeliveryStats summarises the open deliveries.
func (s *Store) DeliveryStats(ctx context.Context) (store.DeliveryStats, error) {
	var (
		st     store.DeliveryStats
		oldest sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'leased' THEN 1 ELSE 0 END), 0),
			MIN(CASE WHEN state = 'pending' THEN created_at END)
		FROM deliveries WHERE state IN ('pending', 'leased')`).Scan(&st.Pending, &st.Leased, &oldest)
	if err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	if oldest.Valid {
		st.OldestPending = fromNanos(oldest.Int64)
	}
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM deliveries WHERE state = 'dead'").Scan(&st.Dead); err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	return st, nil
}
