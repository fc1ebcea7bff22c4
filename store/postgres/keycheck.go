package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EnsureKeyCheck stores sealed as the store's key check value unless one
// is stored already (by this replica or another), and returns the stored
// one: the daemon checks that its master key opens it.
func (s *Store) EnsureKeyCheck(ctx context.Context, sealed []byte) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO key_check (id, sealed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
			sealed, s.now().UnixNano()); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT sealed FROM key_check WHERE id = 1").Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("key check: %w", err)
	}
	return stored, nil
}
