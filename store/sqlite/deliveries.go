package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/forgelink/forgelink/store"
)

const deliveryColumns = "id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete, message, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at"

// deliveryInserter inserts deliveries with one prepared statement per
// transaction.
type deliveryInserter struct {
	tx   *sql.Tx
	stmt *sql.Stmt
}

func newDeliveryInserter(tx *sql.Tx) *deliveryInserter { return &deliveryInserter{tx: tx} }

func (d *deliveryInserter) insert(ds []store.Delivery, now int64) error {
	if len(ds) == 0 {
		return nil
	}
	if d.stmt == nil {
		stmt, err := d.tx.Prepare("INSERT INTO deliveries (" + deliveryColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		d.stmt = stmt
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
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE events SET routed = 1 WHERE id = ? AND routed = 0 AND held = 0", eventID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // routed already, or held again: nothing to do
		}
		ins := newDeliveryInserter(tx)
		defer ins.close()
		return ins.insert(ds, now)
	})
	if err != nil {
		return fmt.Errorf("route event %s: %w", eventID, err)
	}
	return nil
}

// claimScan bounds how many open deliveries of one target a claim looks at.
// Targets are scanned separately, so a target with a deep backlog (dead,
// or backing off) cannot hide another target's deliveries.
const claimScan = 1024

// ClaimDeliveries leases due deliveries, honouring each pipeline's
// execution mode: QUEUED pipelines release one delivery at a time, in id
// order; SUPERSEDED ones one per branch, the newest, superseding older
// waiting ones; PARALLEL ones any. A lease that expired (its daemon died) is
// due again.
func (s *Store) ClaimDeliveries(ctx context.Context, req store.ClaimRequest) ([]store.Delivery, error) {
	var claimed []store.Delivery
	err := s.write(ctx, func(tx *sql.Tx) error {
		open, err := openDeliveries(ctx, tx, req.Limits)
		if err != nil {
			return err
		}
		pick, superseded := selectClaims(open, req)
		if err := markSuperseded(ctx, tx, superseded, req.Now); err != nil {
			return err
		}
		claimed, err = lease(ctx, tx, pick, req)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return claimed, nil
}

// selectClaims decides, over the open deliveries in id order, which to
// lease now and which a newer one supersedes.
func selectClaims(open []store.Delivery, req store.ClaimRequest) (pick, superseded []store.Delivery) {
	due := func(d store.Delivery) bool {
		if d.State == store.DeliveryLeased {
			return !d.LeaseUntil.After(req.Now)
		}
		return !d.NextAttemptAt.After(req.Now)
	}
	busy := func(d store.Delivery) bool { return d.State == store.DeliveryLeased && d.LeaseUntil.After(req.Now) }
	limits := make(map[string]int, len(req.Limits))
	for t, n := range req.Limits {
		limits[t] = n
	}
	headSeen := map[string]bool{} // QUEUED: pipeline whose oldest open delivery was seen
	newest := map[string]int{}    // SUPERSEDED: (pipeline, branch) → index of newest open
	groupBusy := map[string]bool{}
	for i, d := range open {
		if d.Mode == "SUPERSEDED" {
			key := d.Pipeline + "\x00" + d.Branch
			newest[key] = i
			groupBusy[key] = groupBusy[key] || busy(d)
		}
	}
	take := func(d store.Delivery) {
		if limits[d.Target] > 0 && due(d) {
			limits[d.Target]--
			pick = append(pick, d)
		}
	}
	for i, d := range open {
		switch d.Mode {
		case "QUEUED":
			if !headSeen[d.Pipeline] {
				headSeen[d.Pipeline] = true
				take(d)
			}
		case "SUPERSEDED":
			key := d.Pipeline + "\x00" + d.Branch
			switch {
			case newest[key] != i && d.State == store.DeliveryPending:
				superseded = append(superseded, d)
			case newest[key] == i && !groupBusy[key]:
				take(d)
			}
		default:
			take(d)
		}
	}
	return pick, superseded
}

func markSuperseded(ctx context.Context, tx *sql.Tx, ds []store.Delivery, now time.Time) error {
	for _, d := range ds {
		if _, err := tx.ExecContext(ctx, "UPDATE deliveries SET state = ?, last_error = ?, updated_at = ? WHERE id = ? AND state = ?",
			store.DeliverySuperseded, "superseded by a newer event on branch "+d.Branch, now.UnixNano(), d.ID, store.DeliveryPending); err != nil {
			return err
		}
	}
	return nil
}

// openDeliveries returns the open deliveries of the targets that may take
// more, without their messages: a claim reads messages only for what it
// leases.
func openDeliveries(ctx context.Context, tx *sql.Tx, limits map[string]int) ([]store.Delivery, error) {
	columns := strings.Replace(deliveryColumns, "message", "'' AS message", 1)
	var open []store.Delivery
	for target, n := range limits {
		if n <= 0 {
			continue
		}
		ds, err := queryAll(ctx, tx, scanDelivery,
			"SELECT "+columns+" FROM deliveries WHERE target = ? AND state IN ('pending', 'leased') ORDER BY id LIMIT ?", target, claimScan)
		if err != nil {
			return nil, err
		}
		open = append(open, ds...)
	}
	return open, nil
}

func lease(ctx context.Context, tx *sql.Tx, ds []store.Delivery, req store.ClaimRequest) ([]store.Delivery, error) {
	until := req.Now.Add(req.Lease)
	for i := range ds {
		d := &ds[i]
		if err := tx.QueryRowContext(ctx, "SELECT message FROM deliveries WHERE id = ?", d.ID).Scan(&d.Message); err != nil {
			return nil, err
		}
		d.State, d.Attempts, d.LeaseOwner, d.LeaseUntil = store.DeliveryLeased, d.Attempts+1, req.Owner, until
		if _, err := tx.ExecContext(ctx, "UPDATE deliveries SET state = ?, attempts = ?, lease_owner = ?, lease_until = ?, updated_at = ? WHERE id = ?",
			d.State, d.Attempts, d.LeaseOwner, until.UnixNano(), req.Now.UnixNano(), d.ID); err != nil {
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
		for _, r := range results {
			if err := completeAttempt(ctx, tx, r, s.now().UnixNano()); err != nil {
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

func completeAttempt(ctx context.Context, tx *sql.Tx, r store.AttemptResult, now int64) error {
	var exit sql.NullInt64
	if r.ExitStatus != nil {
		exit = sql.NullInt64{Int64: int64(*r.ExitStatus), Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_attempts (delivery_id, n, started_at, duration_ns, outcome, status_code, exit_status, error, output)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, n) DO NOTHING`,
		r.DeliveryID, r.N, r.StartedAt.UnixNano(), int64(r.Duration), r.Outcome, r.StatusCode, exit, r.Error, r.Output); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = ?, next_attempt_at = ?, lease_owner = '', lease_until = 0, last_error = ?, updated_at = ?
		WHERE id = ? AND state = ? AND lease_owner = ? AND attempts = ?`,
		r.State, r.NextAttemptAt.UnixNano(), r.Error, now, r.DeliveryID, store.DeliveryLeased, r.LeaseOwner, r.N)
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

// ListDeliveries returns deliveries in id order after p.After.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error) {
	where, args := []string{"id > ?"}, []any{p.After}
	for _, c := range []struct{ col, v string }{{"pipeline", f.Pipeline}, {"state", f.State}, {"event_id", f.EventID}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	query := "SELECT " + deliveryColumns + " FROM deliveries WHERE " + strings.Join(where, " AND ") + " ORDER BY id"
	if p.Limit > 0 {
		query, args = query+" LIMIT ?", append(args, p.Limit)
	}
	ds, err := queryAll(ctx, s.r, scanDelivery, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

// Redeliver makes a finished delivery pending again, due now.
func (s *Store) Redeliver(ctx context.Context, id string) error {
	now := s.now().UnixNano()
	return s.transition(ctx, id, "redeliver", "UPDATE deliveries SET state = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state IN ('succeeded', 'dead', 'superseded', 'discarded')",
		store.DeliveryPending, now, now, id)
}

// Discard drops a pending or dead delivery.
func (s *Store) Discard(ctx context.Context, id string) error {
	return s.transition(ctx, id, "discard", "UPDATE deliveries SET state = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'dead')",
		store.DeliveryDiscarded, s.now().UnixNano(), id)
}

// transition runs a state change that must match one row; when it matches
// none, it tells an unknown delivery (ErrNotFound) from one in the wrong
// state (ErrUnavailable).
func (s *Store) transition(ctx context.Context, id, what, query string, args ...any) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		var state string
		if err := tx.QueryRowContext(ctx, "SELECT state FROM deliveries WHERE id = ?", id).Scan(&state); err != nil {
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
