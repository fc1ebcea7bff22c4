package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/forgelink/forgelink/store"
)

// GetRecoveryHook returns how far recovery read hook key's delivery log:
// store.ErrNotFound before the first read.
func (s *Store) GetRecoveryHook(ctx context.Context, key string) (store.RecoveryHook, error) {
	h := store.RecoveryHook{Key: key}
	var until, updated int64
	err := s.r.QueryRowContext(ctx, `SELECT checked_until, unrecoverable, reason, updated_at
		FROM recovery_hooks WHERE hook_key = ?`, key).Scan(&until, &h.Unrecoverable, &h.Reason, &updated)
	if err != nil {
		return store.RecoveryHook{}, fmt.Errorf("recovery hook %s: %w", key, notFound(err))
	}
	h.CheckedUntil, h.UpdatedAt = timeOrZero(until), timeOrZero(updated)
	return h, nil
}

// PutRecoveryHook writes h whole.
func (s *Store) PutRecoveryHook(ctx context.Context, h store.RecoveryHook) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO recovery_hooks (hook_key, checked_until, unrecoverable, reason, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (hook_key) DO UPDATE SET checked_until = excluded.checked_until,
				unrecoverable = excluded.unrecoverable, reason = excluded.reason, updated_at = excluded.updated_at`,
			h.Key, nanosOrZero(h.CheckedUntil), h.Unrecoverable, h.Reason, nanosOrZero(h.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("save recovery hook %s: %w", h.Key, err)
	}
	return nil
}

// recoveryBatch bounds the ids bound in one IN list (SQLite's default
// limit of host parameters is 32766; the rest of the query needs few).
const recoveryBatch = 500

// RecordedDeliveries returns which of guids are recorded as delivery ids
// of events of connIDs: one query per batch of each, on the unique index
// (connection_id, delivery_id).
func (s *Store) RecordedDeliveries(ctx context.Context, connIDs, guids []string) (map[string]bool, error) {
	found := map[string]bool{}
	err := inBatches(connIDs, func(conns []string) error {
		return inBatches(guids, func(batch []string) error {
			rows, err := s.r.QueryContext(ctx, "SELECT delivery_id FROM events WHERE connection_id IN ("+placeholders(len(conns))+
				") AND delivery_id IN ("+placeholders(len(batch))+")", append(anys(conns), anys(batch)...)...)
			if err != nil {
				return err
			}
			return collect(rows, func(id string, _ int) { found[id] = true })
		})
	})
	if err != nil {
		return nil, fmt.Errorf("recorded deliveries: %w", err)
	}
	return found, nil
}

// Redeliveries returns how often each of guids was asked for again through
// hook hookKey (absent: never).
func (s *Store) Redeliveries(ctx context.Context, hookKey string, guids []string) (map[string]int, error) {
	counts := map[string]int{}
	err := inBatches(guids, func(batch []string) error {
		rows, err := s.r.QueryContext(ctx, "SELECT guid, count FROM recovery_redeliveries WHERE hook_key = ? AND guid IN ("+
			placeholders(len(batch))+")", append([]any{hookKey}, anys(batch)...)...)
		if err != nil {
			return err
		}
		return collect(rows, func(guid string, n int) { counts[guid] = n })
	})
	if err != nil {
		return nil, fmt.Errorf("redeliveries of %s: %w", hookKey, err)
	}
	return counts, nil
}

// AddRedelivery counts one more request to deliver guid again.
func (s *Store) AddRedelivery(ctx context.Context, hookKey, guid string, at time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO recovery_redeliveries (hook_key, guid, count, at) VALUES (?, ?, 1, ?)
			ON CONFLICT (hook_key, guid) DO UPDATE SET count = count + 1, at = excluded.at`,
			hookKey, guid, at.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("record redelivery of %s: %w", guid, err)
	}
	return nil
}

// GetRecoveryHead returns the last head polling saw of ref: store.ErrNotFound
// before the first poll.
func (s *Store) GetRecoveryHead(ctx context.Context, connID, repository, ref string) (store.RecoveryHead, error) {
	h := store.RecoveryHead{ConnectionID: connID, Repository: repository, Ref: ref}
	var checked int64
	err := s.r.QueryRowContext(ctx, `SELECT sha, checked_at FROM recovery_heads
		WHERE connection_id = ? AND repository = ? AND ref = ?`, connID, repository, ref).Scan(&h.SHA, &checked)
	if err != nil {
		return store.RecoveryHead{}, fmt.Errorf("recovery head %s %s: %w", repository, ref, notFound(err))
	}
	h.CheckedAt = timeOrZero(checked)
	return h, nil
}

// PutRecoveryHead writes h whole.
func (s *Store) PutRecoveryHead(ctx context.Context, h store.RecoveryHead) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO recovery_heads (connection_id, repository, ref, sha, checked_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (connection_id, repository, ref) DO UPDATE SET sha = excluded.sha, checked_at = excluded.checked_at`,
			h.ConnectionID, h.Repository, h.Ref, h.SHA, nanosOrZero(h.CheckedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("save recovery head %s %s: %w", h.Repository, h.Ref, err)
	}
	return nil
}

func inBatches(ids []string, fn func([]string) error) error {
	for start := 0; start < len(ids); start += recoveryBatch {
		if err := fn(ids[start:min(start+recoveryBatch, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// collect scans rows of (text[, int]) into fn.
func collect(rows *sql.Rows, fn func(string, int)) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		var n int
		dest := []any{&s}
		if len(cols) > 1 {
			dest = append(dest, &n)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn(s, n)
	}
	return rows.Err()
}
