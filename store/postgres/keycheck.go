package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EnsureKeyCheck returns the store's key check value, which the daemon
// checks its master key against. A store without one (new, or older than
// the key check) records sealed, provided fits accepts the newest webhook
// secret already stored (its connection id and sealed value), so that a
// wrong key at the first start after an upgrade is refused rather than
// recorded. fits's error is returned, wrapped, and nothing is written.
// Replicas starting together all get the value the first of them recorded.
func (s *Store) EnsureKeyCheck(ctx context.Context, sealed []byte, fits func(connID string, sealed []byte) error) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(tx pgx.Tx) error {
		const get = "SELECT sealed FROM key_check WHERE id = 1"
		err := tx.QueryRow(ctx, get).Scan(&stored)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var connID string
		var secret []byte
		err = tx.QueryRow(ctx, "SELECT connection_id, sealed FROM webhook_secrets ORDER BY created_at DESC LIMIT 1").Scan(&connID, &secret)
		switch {
		case err == nil:
			if err := fits(connID, secret); err != nil {
				return err
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO key_check (id, sealed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
			sealed, s.now().UnixNano()); err != nil {
			return err
		}
		// Another replica's value, if it won the race; READ COMMITTED
		// sees it once its insert has committed.
		return tx.QueryRow(ctx, get).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("key check: %w", err)
	}
	return stored, nil
}
