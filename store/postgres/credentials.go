package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

// SetConnectionCredential records (or replaces) the credential that
// completes the live connection connID and makes the connection AVAILABLE,
// releasing its held events, in one transaction: a connection is never
// AVAILABLE without its credential, nor holds a credential it failed to
// become AVAILABLE with. c.UpdatedAt is ignored; the store's clock sets it.
func (s *Store) SetConnectionCredential(ctx context.Context, connID string, c store.Credential) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx pgx.Tx) error {
		// First, so that a deleted or unknown connection gets no row; its
		// row lock keeps the connection live until the commit.
		if err := setStatus(ctx, tx, connID, store.StatusAvailable, "", now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO connection_credentials (connection_id, kind, sealed, account, updated_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (connection_id) DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed,
				account = excluded.account, updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
			connID, c.Kind, nonNil(c.Sealed), c.Account, now, nanosOrNull(c.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("set credential of %s: %w", connID, err)
	}
	return nil
}

// GetConnectionCredential returns the credential of connection connID;
// ErrNotFound when it has none (deleting a connection deletes it).
func (s *Store) GetConnectionCredential(ctx context.Context, connID string) (store.Credential, error) {
	var (
		c       store.Credential
		updated int64
		expires *int64
	)
	err := s.pool.QueryRow(ctx,
		"SELECT kind, sealed, account, updated_at, expires_at FROM connection_credentials WHERE connection_id = $1", connID).
		Scan(&c.Kind, &c.Sealed, &c.Account, &updated, &expires)
	if err != nil {
		return store.Credential{}, fmt.Errorf("get credential of %s: %w", connID, notFound(err))
	}
	c.UpdatedAt, c.ExpiresAt = fromNanos(updated), timeOrNull(expires)
	return c, nil
}
