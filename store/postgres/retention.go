package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

// Row contents as Usage and PruneResult count them: pg_column_size is the
// stored (possibly compressed) size, read without fetching TOASTed values.
const (
	eventBytesSQL   = "pg_column_size(body) + pg_column_size(headers) + pg_column_size(normalized)"
	messageBytesSQL = "pg_column_size(message)"
	attemptBytesSQL = "pg_column_size(output) + pg_column_size(error)"
)

// pruneCandidatesSQL finds a batch of prunable events among those the
// condition %s selects (an id range of the primary key, or the skewed
// events' partial index) and locks them, skipping rows another replica's
// pruning (or a release) holds; the NOT EXISTS reads deliveries_event.
const pruneCandidatesSQL = `SELECT e.id FROM events e
WHERE %s AND e.received_at < $2 AND NOT e.held AND e.routed
AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
	AND d.state <> ALL($3) AND NOT (d.state = 'dead' AND d.updated_at < $4))
ORDER BY e.id LIMIT $5 FOR UPDATE OF e SKIP LOCKED`

// PruneEvents deletes one batch of prunable events with their deliveries
// and attempts, in one transaction. Replicas prune at once without
// waiting on each other (SKIP LOCKED), and the deliveries of the chosen
// events are locked and checked again before anything is deleted: a
// delivery redelivered since the candidates were read keeps its event.
func (s *Store) PruneEvents(ctx context.Context, req store.PruneRequest) (store.PruneResult, error) {
	if err := req.Validate(); err != nil {
		return store.PruneResult{}, fmt.Errorf("prune events: %w", err)
	}
	var res store.PruneResult
	err := s.write(ctx, func(tx pgx.Tx) error {
		ids, err := pruneCandidates(ctx, tx, req)
		if err != nil || len(ids) == 0 {
			return err
		}
		if ids, err = stillPrunable(ctx, tx, ids, req.DeadBefore); err != nil || len(ids) == 0 {
			return err
		}
		res, err = deleteEvents(ctx, tx, ids)
		return err
	})
	if err != nil {
		return store.PruneResult{}, fmt.Errorf("prune events: %w", err)
	}
	return res, nil
}

func pruneCandidates(ctx context.Context, tx pgx.Tx, req store.PruneRequest) ([]string, error) {
	before := req.Before.UnixNano()
	parts := []struct {
		cond string
		args []any
	}{{"e.id > $1 AND e.id < $6", []any{req.IDBefore()}}, {skewedEvents + " AND e.id > $1", nil}}
	if req.BySize {
		before = math.MaxInt64
		parts = parts[:1]
		parts[0].args[0] = "~" // sorts after every id (COLLATE "C")
	}
	var ids []string
	for _, part := range parts {
		rows, err := tx.Query(ctx, fmt.Sprintf(pruneCandidatesSQL, part.cond),
			append([]any{req.After, before, store.PrunableStates, deadBefore(req.DeadBefore), req.Limit}, part.args...)...)
		if err != nil {
			return nil, err
		}
		some, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		ids = append(ids, some...)
	}
	// The lowest ids of both parts, each once; rows locked and left are
	// released at the commit.
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return ids[:min(len(ids), req.Limit)], nil
}

func deadBefore(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// stillPrunable locks the deliveries of events ids and returns the events
// whose deliveries, as committed now, still allow pruning. Under READ
// COMMITTED a locked row is re-read at its latest version.
func stillPrunable(ctx context.Context, tx pgx.Tx, ids []string, deadBefore time.Time) ([]string, error) {
	rows, err := tx.Query(ctx, "SELECT event_id, state, updated_at FROM deliveries WHERE event_id = ANY($1) ORDER BY id FOR UPDATE", ids)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	var (
		eventID, state string
		updated        int64
	)
	_, err = pgx.ForEachRow(rows, []any{&eventID, &state, &updated}, func() error {
		if !slices.Contains(store.PrunableStates, state) &&
			(state != store.DeliveryDead || deadBefore.IsZero() || updated >= deadBefore.UnixNano()) {
			keep[eventID] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ids, func(id string) bool { return keep[id] }), nil
}

// deleteEvents removes events ids (in id order) with their deliveries and
// attempts, counting what went.
func deleteEvents(ctx context.Context, tx pgx.Tx, ids []string) (store.PruneResult, error) {
	res := store.PruneResult{Last: ids[len(ids)-1]}
	steps := []struct {
		query string
		n     *int
	}{
		{"WITH gone AS (DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1)) RETURNING " +
			attemptBytesSQL + " AS b) SELECT count(*), COALESCE(sum(b), 0) FROM gone", &res.Attempts},
		{"WITH gone AS (DELETE FROM deliveries WHERE event_id = ANY($1) RETURNING " + messageBytesSQL + " AS b) SELECT count(*), COALESCE(sum(b), 0) FROM gone", &res.Deliveries},
		{"WITH gone AS (DELETE FROM events WHERE id = ANY($1) RETURNING " + eventBytesSQL + " AS b) SELECT count(*), COALESCE(sum(b), 0) FROM gone", &res.Events},
	}
	for _, st := range steps {
		var bytes int64
		if err := tx.QueryRow(ctx, st.query, ids).Scan(st.n, &bytes); err != nil {
			return res, err
		}
		res.Bytes += bytes
	}
	return res, nil
}

// StoreUsage reports the size of the stored rows' contents and the number
// of events. It reads every row of the three tables (not the TOASTed
// values): the relations' own sizes do not fall when rows are deleted, so
// they cannot tell whether pruning has brought the store under a limit.
func (s *Store) StoreUsage(ctx context.Context) (store.Usage, error) {
	var u store.Usage
	err := s.read(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM events),
			(SELECT COALESCE(sum(`+eventBytesSQL+`), 0) FROM events) +
			(SELECT COALESCE(sum(`+messageBytesSQL+`), 0) FROM deliveries) +
			(SELECT COALESCE(sum(`+attemptBytesSQL+`), 0) FROM delivery_attempts)`).Scan(&u.Events, &u.Bytes)
	})
	if err != nil {
		return store.Usage{}, fmt.Errorf("store usage: %w", err)
	}
	return u, nil
}

// ReclaimSpace does nothing on PostgreSQL: autovacuum makes deleted rows'
// space reusable, and a VACUUM FULL (which would give it back to the file
// system) locks the tables for its whole run.
func (s *Store) ReclaimSpace(context.Context) (free int64, err error) { return 0, nil }
