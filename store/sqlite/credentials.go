package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/forgelink/forgelink/store"
)

// SetConnectionCredential records (or replaces) the credential that
// completes the live connection connID and makes the connection AVAILABLE,
// releasing its held events, in one transaction: a connection is never
// AVAILABLE without its credential, nor holds a credential it failed to
// become AVAILABLE with. c.UpdatedAt is ignored; the store's clock sets it.
func (s *Store) SetConnectionCredential(ctx context.Context, connID string, c store.Credential) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		// First, so that a deleted or unknown connection gets no row.
		if err := setStatus(ctx, tx, connID, store.StatusAvailable, "", now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connection_credentials (connection_id, kind, sealed, account, updated_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (connection_id) DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed,
				account = excluded.account, updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
			connID, c.Kind, c.Sealed, c.Account, now, nanosOrNull(c.ExpiresAt))
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
		expires sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx,
		"SELECT kind, sealed, account, updated_at, expires_at FROM connection_credentials WHERE connection_id = ?", connID).
		Scan(&c.Kind, &c.Sealed, &c.Account, &updated, &expires)
	if err != nil {
		return store.Credential{}, fmt.Errorf("get credential of %s: %w", connID, notFound(err))
	}
	c.UpdatedAt = fromNanos(updated)
	if expires.Valid {
		c.ExpiresAt = fromNanos(expires.Int64)
	}
	return c, nil
}
