package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

// GetRecoveryHook returns how far recovery read hook key's delivery log:
// store.ErrNotFound before the first read.
func (s *Store) GetRecoveryHook(ctx context.Context, key string) (store.RecoveryHook, error) {
	h := store.RecoveryHook{Key: key}
	var until, updated int64
	err := s.pool.QueryRow(ctx, `SELECT checked_until, unrecoverable, reason, updated_at
		FROM recovery_hooks WHERE hook_key = $1`, key).Scan(&until, &h.Unrecoverable, &h.Reason, &updated)
	if err != nil {
		return store.RecoveryHook{}, fmt.Errorf("recovery hook %s: %w", key, notFound(err))
	}
	h.CheckedUntil, h.UpdatedAt = timeOrZero(until), timeOrZero(updated)
	return h, nil
}

// PutRecoveryHook writes h whole.
func (s *Store) PutRecoveryHook(ctx context.Context, h store.RecoveryHook) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO recovery_hooks (hook_key, checked_until, unrecoverable, reason, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (hook_key) DO UPDATE SET checked_until = excluded.checked_until,
			unrecoverable = excluded.unrecoverable, reason = excluded.reason, updated_at = excluded.updated_at`,
		h.Key, nanosOrZero(h.CheckedUntil), h.Unrecoverable, h.Reason, nanosOrZero(h.UpdatedAt))
	if err != nil {
		return fmt.Errorf("save recovery hook %s: %w", h.Key, err)
	}
	return nil
}

// RecordedDeliveries returns which of guids are recorded as delivery ids
// of events of connIDs.
func (s *Store) RecordedDeliveries(ctx context.Context, connIDs, guids []string) (map[string]bool, error) {
	found := map[string]bool{}
	if len(connIDs) == 0 || len(guids) == 0 {
		return found, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT delivery_id FROM events
		WHERE connection_id = ANY($1) AND delivery_id = ANY($2)`, connIDs, guids)
	if err != nil {
		return nil, fmt.Errorf("recorded deliveries: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("recorded deliveries: %w", err)
	}
	for _, id := range ids {
		found[id] = true
	}
	return found, nil
}

// Redeliveries returns how often each of guids was asked for again through
// hook hookKey (absent: never).
func (s *Store) Redeliveries(ctx context.Context, hookKey string, guids []string) (map[string]int, error) {
	counts := map[string]int{}
	rows, err := s.pool.Query(ctx, `SELECT guid, count FROM recovery_redeliveries
		WHERE hook_key = $1 AND guid = ANY($2)`, hookKey, guids)
	if err != nil {
		return nil, fmt.Errorf("redeliveries of %s: %w", hookKey, err)
	}
	var guid string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&guid, &n}, func() error {
		counts[guid] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redeliveries of %s: %w", hookKey, err)
	}
	return counts, nil
}

// AddRedelivery counts one more request to deliver guid again.
func (s *Store) AddRedelivery(ctx context.Context, hookKey, guid string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO recovery_redeliveries (hook_key, guid, count, at) VALUES ($1, $2, 1, $3)
		ON CONFLICT (hook_key, guid) DO UPDATE SET count = recovery_redeliveries.count + 1, at = excluded.at`,
		hookKey, guid, at.UnixNano())
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
	err := s.pool.QueryRow(ctx, `SELECT sha, checked_at FROM recovery_heads
		WHERE connection_id = $1 AND repository = $2 AND ref = $3`, connID, repository, ref).Scan(&h.SHA, &checked)
	if err != nil {
		return store.RecoveryHead{}, fmt.Errorf("recovery head %s %s: %w", repository, ref, notFound(err))
	}
	h.CheckedAt = timeOrZero(checked)
	return h, nil
}

// PutRecoveryHead writes h whole.
func (s *Store) PutRecoveryHead(ctx context.Context, h store.RecoveryHead) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO recovery_heads (connection_id, repository, ref, sha, checked_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (connection_id, repository, ref) DO UPDATE SET sha = excluded.sha, checked_at = excluded.checked_at`,
		h.ConnectionID, h.Repository, h.Ref, h.SHA, nanosOrZero(h.CheckedAt))
	if err != nil {
		return fmt.Errorf("save recovery head %s %s: %w", h.Repository, h.Ref, err)
	}
	return nil
}
