package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// prunableSQL is store.PrunableStates as an SQL list.
var prunableSQL = "'" + strings.Join(store.PrunableStates, "', '") + "'"

// pruneCandidatesSQL finds a batch of prunable events among those the
// condition %s selects (an id range of the primary key, or the skewed
// events' partial index); the NOT EXISTS reads deliveries_event.
const pruneCandidatesSQL = `SELECT e.id, length(e.body) + length(e.headers) + length(e.normalized) FROM events e
WHERE %s AND e.received_at < ? AND e.held = 0 AND e.routed = 1
AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
	AND d.state NOT IN (%s) AND NOT (d.state = 'dead' AND d.updated_at < ?))
ORDER BY e.id LIMIT ?`

// PruneEvents deletes one batch of prunable events with their deliveries
// and attempts, in one write transaction: on the single writer, so no
// delivery can change state between the check and the delete.
func (s *Store) PruneEvents(ctx context.Context, req store.PruneRequest) (store.PruneResult, error) {
	if err := req.Validate(); err != nil {
		return store.PruneResult{}, fmt.Errorf("prune events: %w", err)
	}
	var res store.PruneResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		ids, bytes, err := pruneCandidates(ctx, tx, req)
		if err != nil || len(ids) == 0 {
			return err
		}
		res, err = deleteEvents(ctx, tx, ids)
		res.Bytes += bytes
		return err
	})
	if err != nil {
		return store.PruneResult{}, fmt.Errorf("prune events: %w", err)
	}
	return res, nil
}

// candidate is a prunable event and the size of its contents.
type candidate struct {
	id    string
	bytes int64
}

func pruneCandidates(ctx context.Context, tx *sql.Tx, req store.PruneRequest) ([]string, int64, error) {
	before := req.Before.UnixNano()
	parts := []struct {
		cond string
		args []any
	}{{"e.id > ? AND e.id < ?", []any{req.After, req.IDBefore()}}, {skewedEvents + " AND e.id > ?", []any{req.After}}}
	if req.BySize {
		before = int64(1<<63 - 1)
		parts = parts[:1]
		parts[0].args[1] = "~" // sorts after every id
	}
	deadBefore := int64(0)
	if !req.DeadBefore.IsZero() {
		deadBefore = req.DeadBefore.UnixNano()
	}
	var all []candidate
	for _, part := range parts {
		cs, err := queryAll(ctx, tx, func(r scanner) (candidate, error) {
			var c candidate
			err := r.Scan(&c.id, &c.bytes) // before c is read: Go leaves that order open in one return
			return c, err
		}, fmt.Sprintf(pruneCandidatesSQL, part.cond, prunableSQL), append(part.args, before, deadBefore, req.Limit)...)
		if err != nil {
			return nil, 0, err
		}
		all = append(all, cs...)
	}
	ids, total := oldestCandidates(all, req.Limit)
	return ids, total, nil
}

// oldestCandidates keeps the limit lowest ids of cs (the parts may hold
// an event twice) and sums their sizes.
func oldestCandidates(cs []candidate, limit int) ([]string, int64) {
	slices.SortFunc(cs, func(a, b candidate) int { return strings.Compare(a.id, b.id) })
	cs = slices.CompactFunc(cs, func(a, b candidate) bool { return a.id == b.id })
	var (
		ids   []string
		total int64
	)
	for _, c := range cs[:min(len(cs), limit)] {
		ids, total = append(ids, c.id), total+c.bytes
	}
	return ids, total
}

// deleteEvents removes events ids (in id order) with their deliveries and
// attempts. The ids travel as one JSON array.
func deleteEvents(ctx context.Context, tx *sql.Tx, ids []string) (store.PruneResult, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return store.PruneResult{}, err
	}
	res := store.PruneResult{Last: ids[len(ids)-1]}
	const inBatch = "(SELECT value FROM json_each(?))"
	const ofBatch = "(SELECT id FROM deliveries WHERE event_id IN " + inBatch + ")"
	var msgBytes, outBytes int64
	if err := tx.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(SUM(length(message)), 0) FROM deliveries WHERE event_id IN `+inBatch+`),
		(SELECT COALESCE(SUM(length(output) + length(error)), 0) FROM delivery_attempts WHERE delivery_id IN `+ofBatch+`)`,
		string(list), string(list)).Scan(&msgBytes, &outBytes); err != nil {
		return res, err
	}
	res.Bytes = msgBytes + outBytes
	steps := []struct {
		query string
		n     *int
	}{
		{"DELETE FROM delivery_attempts WHERE delivery_id IN " + ofBatch, &res.Attempts},
		{"DELETE FROM deliveries WHERE event_id IN " + inBatch, &res.Deliveries},
		{"DELETE FROM events WHERE id IN " + inBatch, &res.Events},
	}
	for _, st := range steps {
		r, err := tx.ExecContext(ctx, st.query, string(list))
		if err != nil {
			return res, err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return res, err
		}
		*st.n = int(n)
	}
	return res, nil
}

// StoreUsage reports the pages in use (the file less its free pages) and
// the number of events.
func (s *Store) StoreUsage(ctx context.Context) (store.Usage, error) {
	var u store.Usage
	err := s.read(ctx, func(tx *sql.Tx) error {
		var pages, free, size int64
		for _, p := range []struct {
			name string
			v    *int64
		}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &size}} {
			if err := tx.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(p.v); err != nil {
				return err
			}
		}
		u.Bytes = (pages - free) * size
		return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&u.Events)
	})
	if err != nil {
		return store.Usage{}, fmt.Errorf("store usage: %w", err)
	}
	return u, nil
}

// vacuumStep is how many free pages one incremental vacuum gives back to
// the file system (4 MiB of 16 KiB pages): short enough that the writes
// waiting behind it on the single writer do not notice.
const vacuumStep = 256

// ReclaimSpace gives up to vacuumStep free pages back to the file system
// and reports how many pages are still free. It does nothing on a database
// that is not in incremental auto_vacuum mode (see EnableIncrementalVacuum):
// there the free pages are reused by later writes instead.
func (s *Store) ReclaimSpace(ctx context.Context) (free int64, err error) {
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", vacuumStep)); err != nil {
		return 0, fmt.Errorf("incremental vacuum: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free); err != nil {
		return 0, fmt.Errorf("incremental vacuum: %w", err)
	}
	return free, nil
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

// EnableIncrementalVacuum puts the database in incremental auto_vacuum
// mode, so that ReclaimSpace can shrink the file. SQLite changes the mode
// of a database with tables only by rewriting it (VACUUM), which holds the
// writer for as long as the copy takes: it is done only when the pages in
// use are at most maxBytes, and converted reports whether it was (or
// already is). A larger database keeps reusing its free pages (README,
// Operating it: how to convert one while the daemon is stopped).
func (s *Store) EnableIncrementalVacuum(ctx context.Context, maxBytes int64) (converted bool, err error) {
	var mode int
	if err := s.w.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return false, fmt.Errorf("read auto_vacuum: %w", err)
	}
	if mode == autoVacuumIncremental {
		return true, nil
	}
	u, err := s.StoreUsage(ctx)
	if err != nil {
		return false, err
	}
	if u.Bytes > maxBytes {
		return false, nil
	}
	// The pragma and the VACUUM must run on the same connection; the
	// writer pool has one, pinned here for both.
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("enable incremental vacuum: %w", err)
	}
	defer conn.Close()
	for _, q := range []string{"PRAGMA auto_vacuum = INCREMENTAL", "VACUUM"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("enable incremental vacuum: %s: %w", q, err)
		}
	}
	s.log.Info("database converted to incremental auto_vacuum", zap.Int64("bytes", u.Bytes))
	return true, nil
}
