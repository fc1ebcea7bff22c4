package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

const deliveryColumns = "id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete, message, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at"

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
	d.LeaseUntil = timeOrZero(leaseUntil)
	return d, nil
}

// UnroutedEvents returns released events whose deliveries are not decided
// yet, oldest first.
func (s *Store) UnroutedEvents(ctx context.Context, limit int) ([]store.Event, error) {
	var lim any = limit
	if limit < 0 {
		lim = nil // LIMIT NULL: no limit, as SQLite's LIMIT -1
	}
	events, err := queryAll(ctx, s.pool, scanEvent,
		"SELECT "+eventColumns+" FROM events WHERE NOT routed AND NOT held ORDER BY id LIMIT $1", lim)
	if err != nil {
		return nil, fmt.Errorf("unrouted events: %w", err)
	}
	return events, nil
}

// routeEventSQL marks event $11 routed and inserts its deliveries, in one
// statement, only if it was neither routed (by this or another replica)
// nor held again.
const routeEventSQL = "WITH e AS (UPDATE events SET routed = true WHERE id = $11 AND NOT routed AND NOT held RETURNING id) " +
	insertDeliveriesSQL

// RouteEvent writes an event's deliveries and marks it routed, at most once.
func (s *Store) RouteEvent(ctx context.Context, eventID string, ds []store.Delivery) error {
	args := append(deliveryArgs(ds, s.now().UnixNano()), eventID)
	if _, err := s.pool.Exec(ctx, routeEventSQL, args...); err != nil {
		return fmt.Errorf("route event %s: %w", eventID, err)
	}
	return nil
}

// claimScan bounds how many due deliveries of one target a claim looks at.
const claimScan = 512

// minClaimPage is the smallest page of due deliveries a claim reads. A
// claim reads twice what it may lease (all of it is eligible in PARALLEL
// mode), and further pages, each twice as large, only while it has not
// found enough eligible ones, up to claimScan.
const minClaimPage = 16

// ClaimDeliveries leases due deliveries, honouring each pipeline's
// execution mode: QUEUED pipelines release one delivery at a time, in id
// order; SUPERSEDED ones one per branch, the newest, superseding older
// waiting ones; PARALLEL ones any. A lease that expired (its daemon died) is
// due again.
//
// Several replicas claim at once, each in its own transaction:
//   - A delivery is leased by one statement that locks it FOR UPDATE SKIP
//     LOCKED and checks again that it is due (PostgreSQL re-reads a row
//     that changed since the statement's snapshot): two claims never
//     lease one delivery, and neither waits for the other.
//   - Execution order is decided per pipeline and target, under a
//     transaction-scoped advisory lock taken without waiting
//     (pg_try_advisory_xact_lock): while one claim decides what a pipeline
//     may release, another skips that pipeline, as SKIP LOCKED skips rows,
//     and finds it decided (and committed) on its next claim. The lock is
//     taken before the pipeline's head or groups are read, so the read
//     sees every earlier claim's leases; without it, two claims could each
//     read the other's newly leased delivery as pending and release two
//     deliveries of one SUPERSEDED branch at once.
//   - Superseding skips locked rows too, so a claim never waits on a row
//     lock while holding others: no deadlock between claims, and none with
//     CompleteAttempts.
//
// Each target is scanned on its own, and only for deliveries that are due
// (through indexes on next_attempt_at and lease_until), so neither another
// target's backlog nor this target's deliveries waiting out a backoff hide
// a due delivery.
func (s *Store) ClaimDeliveries(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error) {
	var claimed []store.Delivery
	err := s.write(ctx, func(tx pgx.Tx) error {
		c := &claim{s: s, ctx: ctx, tx: tx, req: req, now: req.Now.UnixNano(),
			locked: map[string]bool{}, heads: map[string]string{}, groups: map[string]group{}}
		for target, n := range req.Limits {
			if n <= 0 {
				continue
			}
			ds, err := c.target(target, n)
			if err != nil {
				return err
			}
			claimed = append(claimed, ds...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return claimed, nil
}

// claim is one ClaimDeliveries transaction's view of pipeline order.
type claim struct {
	s      *Store
	ctx    context.Context
	tx     pgx.Tx
	req    store.ClaimRequest
	now    int64
	locked map[string]bool   // pipeline+target → this claim holds its order lock
	heads  map[string]string // QUEUED: pipeline+target → id of its oldest open delivery
	groups map[string]group  // SUPERSEDED: pipeline+target+branch → its state
}

type group struct {
	newest string
	busy   bool // a delivery of the group is in flight
}

// target leases up to n of target's due deliveries. It reads them a page
// at a time, decides which are eligible, and leases those; what another
// claim locked meanwhile is skipped, and the scan goes on for more.
func (c *claim) target(target string, n int) ([]store.Delivery, error) {
	var claimed []store.Delivery
	cur := dueCursor{pendingAt: math.MinInt64, leaseAt: math.MinInt64}
	page := min(max(2*n, minClaimPage), claimScan)
	for scanned := 0; n > 0 && scanned < claimScan; scanned, page = scanned+page, page*2 {
		page = min(page, claimScan-scanned)
		due, more, err := c.due(target, &cur, page)
		if err != nil {
			return nil, err
		}
		var eligible []string
		lease := func() error {
			got, err := c.lease(target, eligible)
			claimed, n, eligible = append(claimed, got...), n-len(got), eligible[:0]
			return err
		}
		for _, d := range due {
			if len(eligible) == n {
				if err := lease(); err != nil {
					return nil, err
				}
				if n == 0 {
					break
				}
			}
			ok, err := c.eligible(d)
			if err != nil {
				return nil, err
			}
			if ok {
				eligible = append(eligible, d.ID)
			}
		}
		if len(eligible) > 0 {
			if err := lease(); err != nil {
				return nil, err
			}
		}
		if !more {
			break
		}
	}
	return claimed, nil
}

// dueCursor is where a claim's scan of a target's two due lists stands:
// pending deliveries by (next_attempt_at, id) and expired leases by
// (lease_until, id). Keyset paging, unlike offsets, skips nothing when
// other replicas lease rows between two pages.
type dueCursor struct {
	pendingAt, leaseAt int64
	pendingID, leaseID string
}

// dueColumns are deliveryColumns without the message: a claim reads
// messages only for what it leases.
const dueColumns = "id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete, '' AS message, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at"

// dueSQL reads one page of a target's due deliveries: up to $5 pending
// ones after cursor ($3, $4) in (next_attempt_at, id) order, and as many
// expired leases after ($6, $7) in (lease_until, id) order, each a range
// of its index (deliveries_due, deliveries_leases), together in id order.
const dueSQL = "(SELECT " + dueColumns + ` FROM deliveries
		WHERE target = $1 AND state = 'pending' AND next_attempt_at <= $2 AND (next_attempt_at, id) > ($3, $4)
		ORDER BY next_attempt_at, id LIMIT $5)
	UNION ALL
	(SELECT ` + dueColumns + ` FROM deliveries
		WHERE target = $1 AND state = 'leased' AND lease_until <= $2 AND (lease_until, id) > ($6, $7)
		ORDER BY lease_until, id LIMIT $5)
	ORDER BY id`

// due returns the next page of a target's due deliveries, in id order,
// and moves the cursor past them. more reports that either list may go on
// past the page.
func (c *claim) due(target string, cur *dueCursor, limit int) (due []store.Delivery, more bool, err error) {
	due, err = queryAll(c.ctx, c.tx, scanDelivery, dueSQL, target, c.now, cur.pendingAt, cur.pendingID, limit, cur.leaseAt, cur.leaseID)
	if err != nil {
		return nil, false, err
	}
	var pending, expired int
	for _, d := range due { // the cursor of each list moves to its greatest (time, id)
		if d.State == store.DeliveryPending {
			pending++
			if at := d.NextAttemptAt.UnixNano(); at > cur.pendingAt || at == cur.pendingAt && d.ID > cur.pendingID {
				cur.pendingAt, cur.pendingID = at, d.ID
			}
			continue
		}
		expired++
		if at := d.LeaseUntil.UnixNano(); at > cur.leaseAt || at == cur.leaseAt && d.ID > cur.leaseID {
			cur.leaseAt, cur.leaseID = at, d.ID
		}
	}
	return due, pending == limit || expired == limit, nil
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
		if err != nil || g.busy || g.newest == "" {
			return false, err
		}
		if g.newest != d.ID {
			// A delivery whose lease expired (its daemon died) waits like a
			// pending one: the newer one replaces it too, or it would be
			// delivered after it.
			_, err := c.tx.Exec(c.ctx, `UPDATE deliveries SET state = $1, last_error = $2, updated_at = $3
				WHERE id IN (SELECT id FROM deliveries WHERE pipeline = $4 AND target = $5 AND branch = $6
					AND (state = 'pending' OR (state = 'leased' AND lease_until <= $3)) AND id < $7
					FOR UPDATE SKIP LOCKED)`,
				store.DeliverySuperseded, "superseded by a newer event on branch "+d.Branch, c.now, d.Pipeline, d.Target, d.Branch, g.newest)
			return false, err
		}
		return true, nil
	}
	return true, nil
}

// order takes the order lock of a pipeline and target, once per claim;
// false when another claim holds it. Order is kept per pipeline and
// target: after a reload moved a pipeline to another target, the old
// target's leftovers do not hold up the new one.
func (c *claim) order(pipeline, target string) (bool, error) {
	key := pipeline + "\x00" + target
	if ok, seen := c.locked[key]; seen {
		return ok, nil
	}
	ok, err := c.s.tryLock(c.ctx, c.tx, "deliveries", pipeline, target)
	c.locked[key] = ok
	return ok, err
}

// head returns the id of the oldest open delivery of a QUEUED pipeline,
// or "" when another claim is deciding the pipeline's order.
func (c *claim) head(pipeline, target string) (string, error) {
	key := pipeline + "\x00" + target
	if id, ok := c.heads[key]; ok {
		return id, nil
	}
	ok, err := c.order(pipeline, target)
	if err != nil || !ok {
		return "", err
	}
	// One lookup per state, each the first entry of an index range. NULL:
	// the delivery being checked was finished meanwhile.
	var id *string
	err = c.tx.QueryRow(c.ctx, `SELECT LEAST(
			(SELECT MIN(id) FROM deliveries WHERE pipeline = $1 AND target = $2 AND state = 'pending'),
			(SELECT MIN(id) FROM deliveries WHERE pipeline = $1 AND target = $2 AND state = 'leased'))`,
		pipeline, target).Scan(&id)
	if err != nil {
		return "", err
	}
	c.heads[key] = deref(id)
	return c.heads[key], nil
}

// group returns the state of a SUPERSEDED pipeline's branch; its newest is
// "" when another claim is deciding the pipeline's order.
func (c *claim) group(pipeline, target, branch string) (group, error) {
	key := pipeline + "\x00" + target + "\x00" + branch
	if g, ok := c.groups[key]; ok {
		return g, nil
	}
	var g group
	ok, err := c.order(pipeline, target)
	if err != nil || !ok {
		return g, err
	}
	var newest *string
	err = c.tx.QueryRow(c.ctx, `SELECT GREATEST(
			(SELECT MAX(id) FROM deliveries WHERE pipeline = $1 AND target = $2 AND branch = $3 AND state = 'pending'),
			(SELECT MAX(id) FROM deliveries WHERE pipeline = $1 AND target = $2 AND branch = $3 AND state = 'leased')),
		EXISTS (SELECT 1 FROM deliveries WHERE pipeline = $1 AND target = $2 AND branch = $3 AND state = 'leased' AND lease_until > $4)`,
		pipeline, target, branch, c.now).Scan(&newest, &g.busy)
	g.newest = deref(newest)
	c.groups[key] = g
	return g, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// lease leases the deliveries ids of target that are still due and that
// no other transaction has locked, and returns them as leased.
func (c *claim) lease(target string, ids []string) ([]store.Delivery, error) {
	lease := c.req.Lease
	if l, ok := c.req.Leases[target]; ok {
		lease = l
	}
	return queryAll(c.ctx, c.tx, scanDelivery, `UPDATE deliveries
		SET state = 'leased', attempts = attempts + 1, lease_owner = $1, lease_until = $2, updated_at = $3
		WHERE id IN (SELECT id FROM deliveries WHERE id = ANY($4)
			AND ((state = 'pending' AND next_attempt_at <= $3) OR (state = 'leased' AND lease_until <= $3))
			FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryColumns,
		c.req.Owner, c.req.Now.Add(lease).UnixNano(), c.now, ids)
}

// completeAttemptSQL moves a delivery on after an attempt, provided the
// attempt still holds the lease.
const completeAttemptSQL = `UPDATE deliveries SET state = $1, next_attempt_at = $2, lease_owner = '', lease_until = 0, last_error = $3, updated_at = $4
	WHERE id = $5 AND state = 'leased' AND lease_owner = $6 AND attempts = $7`

const insertAttemptSQL = `INSERT INTO delivery_attempts (delivery_id, n, started_at, duration_ns, outcome, status_code, exit_status, error, output)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (delivery_id, n) DO NOTHING`

// CompleteAttempts records attempts and moves their deliveries on. A result
// whose lease was lost (another claim took the delivery after the lease
// expired) is recorded as an attempt but changes nothing else. The results
// go in one batch, which PostgreSQL runs as one (implicit) transaction.
func (s *Store) CompleteAttempts(ctx context.Context, results []store.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range results {
		b.Queue(insertAttemptSQL, r.DeliveryID, r.N, r.StartedAt.UnixNano(), int64(r.Duration), r.Outcome, r.StatusCode,
			r.ExitStatus, r.Error, r.Output)
		b.Queue(completeAttemptSQL, r.State, r.NextAttemptAt.UnixNano(), r.Error, s.now().UnixNano(), r.DeliveryID, r.LeaseOwner, r.N)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("complete attempts: %w", err)
	}
	return nil
}

// GetDelivery returns a delivery and its attempts, oldest first.
func (s *Store) GetDelivery(ctx context.Context, id string) (store.Delivery, []store.Attempt, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, "SELECT "+deliveryColumns+" FROM deliveries WHERE id = $1", id))
	if err != nil {
		return store.Delivery{}, nil, fmt.Errorf("delivery %s: %w", id, notFound(err))
	}
	attempts, err := queryAll(ctx, s.pool, scanAttempt,
		"SELECT delivery_id, n, started_at, duration_ns, outcome, status_code, exit_status, error, output FROM delivery_attempts WHERE delivery_id = $1 ORDER BY n", id)
	if err != nil {
		return store.Delivery{}, nil, fmt.Errorf("attempts of %s: %w", id, err)
	}
	return d, attempts, nil
}

func scanAttempt(row scanner) (store.Attempt, error) {
	var (
		a                 store.Attempt
		started, duration int64
		exit              *int
	)
	if err := row.Scan(&a.DeliveryID, &a.N, &started, &duration, &a.Outcome, &a.StatusCode, &exit, &a.Error, &a.Output); err != nil {
		return store.Attempt{}, err
	}
	a.StartedAt, a.Duration, a.ExitStatus = fromNanos(started), time.Duration(duration), exit
	return a, nil
}

// Redeliver makes a finished delivery pending again, due now.
func (s *Store) Redeliver(ctx context.Context, id string) error {
	now := s.now().UnixNano()
	return s.transition(ctx, id, "redeliver", `UPDATE deliveries SET state = $1, next_attempt_at = $2, updated_at = $2
		WHERE id = $3 AND state IN ('succeeded', 'dead', 'superseded', 'discarded', 'filtered')`,
		store.DeliveryPending, now, id)
}

// Discard drops a pending or dead delivery.
func (s *Store) Discard(ctx context.Context, id string) error {
	return s.transition(ctx, id, "discard", "UPDATE deliveries SET state = $1, updated_at = $2 WHERE id = $3 AND state IN ('pending', 'dead')",
		store.DeliveryDiscarded, s.now().UnixNano(), id)
}

// transition runs a state change that must match one row; when it matches
// none, it tells an unknown delivery (ErrNotFound) from one in the wrong
// state (ErrUnavailable).
func (s *Store) transition(ctx context.Context, id, what, query string, args ...any) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, args...)
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		var state string
		if err := tx.QueryRow(ctx, "SELECT state FROM deliveries WHERE id = $1", id).Scan(&state); err != nil {
			return notFound(err)
		}
		return fmt.Errorf("delivery is %s: %w", state, store.ErrUnavailable)
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	return nil
}

// DeliveryStats summarises the open deliveries.
func (s *Store) DeliveryStats(ctx context.Context) (store.DeliveryStats, error) {
	var (
		st     store.DeliveryStats
		oldest *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT
			COUNT(*) FILTER (WHERE state = 'pending'),
			COUNT(*) FILTER (WHERE state = 'leased'),
			MIN(created_at) FILTER (WHERE state = 'pending'),
			(SELECT COUNT(*) FROM deliveries WHERE state = 'dead')
		FROM deliveries WHERE state IN ('pending', 'leased')`).Scan(&st.Pending, &st.Leased, &oldest, &st.Dead)
	if err != nil {
		return st, fmt.Errorf("delivery stats: %w", err)
	}
	st.OldestPending = timeOrNull(oldest)
	return st, nil
}

// CompleteDeliveryFiles replaces the message of delivery id with message,
// whose changed-file list the delivery engine completed through the
// provider's compare API, and clears files_incomplete, provided attempt
// attempt still holds the delivery's lease for owner; otherwise it changes
// nothing and returns ErrUnavailable (ErrNotFound for an unknown id).
func (s *Store) CompleteDeliveryFiles(ctx context.Context, id, owner string, attempt int, message []byte) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET message = $1, files_incomplete = false, updated_at = $2
			WHERE id = $3 AND state = 'leased' AND lease_owner = $4 AND attempts = $5`,
			string(message), now, id, owner, attempt)
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		var state string
		if err := tx.QueryRow(ctx, "SELECT state FROM deliveries WHERE id = $1", id).Scan(&state); err != nil {
			return notFound(err)
		}
		return fmt.Errorf("the attempt's lease is lost: %w", store.ErrUnavailable)
	})
	if err != nil {
		return fmt.Errorf("complete files of delivery %s: %w", id, err)
	}
	return nil
}
