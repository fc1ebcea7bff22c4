package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

func insertSecret(ctx context.Context, tx pgx.Tx, connID string, sealed []byte, now int64) error {
	_, err := tx.Exec(ctx, "INSERT INTO webhook_secrets (connection_id, created_at, sealed) VALUES ($1, $2, $3)", connID, now, sealed)
	return err
}

// WebhookSecrets returns the connection's secrets that are valid at now,
// newest first. ErrNotFound if the connection is unknown or deleted. One
// query: the ingress asks on every delivery.
func (s *Store) WebhookSecrets(ctx context.Context, connID string, now time.Time) ([]store.WebhookSecret, error) {
	rows, err := s.pool.Query(ctx, `SELECT w.sealed, w.created_at, w.expires_at FROM connections c
		LEFT JOIN webhook_secrets w ON w.connection_id = c.id AND (w.expires_at IS NULL OR w.expires_at > $1)
		WHERE c.id = $2 AND c.deleted_at IS NULL ORDER BY w.created_at DESC`, now.UnixNano(), connID)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets of %s: %w", connID, err)
	}
	defer rows.Close()
	found := false
	var secrets []store.WebhookSecret
	for rows.Next() {
		found = true
		var (
			sealed             []byte
			created, expiresAt *int64
		)
		if err := rows.Scan(&sealed, &created, &expiresAt); err != nil {
			return nil, fmt.Errorf("webhook secrets of %s: %w", connID, err)
		}
		if created == nil {
			continue // the connection has no secret valid now
		}
		secrets = append(secrets, store.WebhookSecret{Sealed: sealed, CreatedAt: fromNanos(*created), ExpiresAt: timeOrNull(expiresAt)})
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
// Rotations of one connection are serialized by its row lock.
func (s *Store) RotateWebhookSecret(ctx context.Context, connID string, sealed []byte, previousUntil time.Time) error {
	now := s.now().UnixNano()
	until := previousUntil.UnixNano()
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := lockLiveConnection(ctx, tx, connID, serialize); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			"UPDATE webhook_secrets SET expires_at = $1 WHERE connection_id = $2 AND (expires_at IS NULL OR expires_at > $1)",
			until, connID); err != nil {
			return err
		}
		// Two rotations within one clock tick must not collide on the key.
		var last *int64
		if err := tx.QueryRow(ctx, "SELECT MAX(created_at) FROM webhook_secrets WHERE connection_id = $1", connID).Scan(&last); err != nil {
			return err
		}
		if last != nil && *last >= now {
			now = *last + 1
		}
		return insertSecret(ctx, tx, connID, sealed, now)
	})
	if err != nil {
		return fmt.Errorf("rotate webhook secret of %s: %w", connID, err)
	}
	return nil
}
