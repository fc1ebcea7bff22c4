package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// EnsureKeyCheck returns the store's key check value, which the daemon
// checks its master key against. A store without one (new, or older than
// the key check) records sealed, provided fits accepts the newest webhook
// secret already stored (its connection id and sealed value), so that a
// wrong key at the first start after an upgrade is refused rather than
// recorded. fits's error is returned, wrapped, and nothing is written.
func (s *Store) EnsureKeyCheck(ctx context.Context, sealed []byte, fits func(connID string, sealed []byte) error) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT sealed FROM key_check WHERE id = 1").Scan(&stored)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var connID string
		var secret []byte
		err = tx.QueryRowContext(ctx, "SELECT connection_id, sealed FROM webhook_secrets ORDER BY created_at DESC LIMIT 1").Scan(&connID, &secret)
		switch {
		case err == nil:
			if err := fits(connID, secret); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		stored = sealed
		_, err = tx.ExecContext(ctx, "INSERT INTO key_check (id, sealed, created_at) VALUES (1, ?, ?)", sealed, s.now().UnixNano())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("key check: %w", err)
	}
	return stored, nil
}
