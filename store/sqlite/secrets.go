package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/forgelink/forgelink/store"
)

func insertSecret(ctx context.Context, tx *sql.Tx, connID string, sealed []byte, now int64) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO webhook_secrets (connection_id, created_at, sealed) VALUES (?, ?, ?)", connID, now, sealed)
	return err
}

// WebhookSecrets returns the connection's secrets that are valid at now,
// newest first. ErrNotFound if the connection is unknown or deleted. One
// query: the ingress asks on every delivery.
func (s *Store) WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT w.sealed, w.created_at, w.expires_at FROM connections c
		LEFT JOIN webhook_secrets w ON w.connection_id = c.id AND (w.expires_at IS NULL OR w.expires_at > ?)
		WHERE c.id = ? AND c.deleted_at IS NULL ORDER BY w.created_at DESC`, now.UnixNano(), connID)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets of %s: %w", connID, err)
	}
	defer rows.Close()
	found := false
	var secrets []store.WebhookSecret
	for rows.Next() {
		found = true
		var (
			sealed    []byte
			created   sql.NullInt64
			expiresAt sql.NullInt64
		)
		if err := rows.Scan(&sealed, &created, &expiresAt); err != nil {
			return nil, fmt.Errorf("webhook secrets of %s: %w", connID, err)
		}
		if sealed == nil {
			continue // the connection has no secret valid now
		}
		w := store.WebhookSecret{Sealed: sealed, CreatedAt: fromNanos(created.Int64)}
		if expiresAt.Valid {
			w.ExpiresAt = fromNanos(expiresAt.Int64)
		}
		secrets = append(secrets, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook secrets of %s: %w", connID, err)
	}
	if !found {
		return nil, fmt.Errorf("webhook secrets: connection %s: %w", connID, store.ErrNotFound)
	}
	return secrets, nil
}

// RotateWebhookSecret makes sealed the current secret. Secrets that were
// valid stay valid until previousUntil (or their own earlier expiry).
func (s *Store) RotateWebhookSecret(ctx context.Context, connID string, sealed []byte, previousUntil time.Time) error {
	now := s.now().UnixNano()
	until := previousUntil.UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireLiveConnection(ctx, tx, connID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE webhook_secrets SET expires_at = ? WHERE connection_id = ? AND (expires_at IS NULL OR expires_at > ?)",
			until, connID, until); err != nil {
			return err
		}
		// Two rotations within one clock tick must not collide on the key.
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT MAX(created_at) FROM webhook_secrets WHERE connection_id = ?", connID).Scan(&last); err != nil {
			return err
		}
		if last.Valid && last.Int64 >= now {
			now = last.Int64 + 1
		}
		return insertSecret(ctx, tx, connID, sealed, now)
	})
	if err != nil {
		return fmt.Errorf("rotate webhook secret of %s: %w", connID, err)
	}
	return nil
}

func requireLiveConnection(ctx context.Context, q querier, connID string) error {
	n, err := count(ctx, q, "SELECT COUNT(*) FROM connections WHERE id = ? AND deleted_at IS NULL", connID)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("connection %s: %w", connID, store.ErrNotFound)
	}
	return nil
}
