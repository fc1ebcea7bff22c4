package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

// EnsureKeyCheck returns the store's key check value, recording sealed
// first when there is none (see store.EnsureKeyCheck). Replicas starting
// together all get the value the first of them recorded.
func (s *Store) EnsureKeyCheck(ctx context.Context, sealed []byte, fits func(connID string, sealed []byte) error) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		stored, err = store.EnsureKeyCheck(ctx, keyCheckTx{tx: tx, now: s.now().UnixNano()}, sealed, fits)
		return err
	})
	return stored, err
}

// keyCheckTx is store.KeyCheckTx in PostgreSQL.
type keyCheckTx struct {
	tx  pgx.Tx
	now int64
}

const selectKeyCheck = "SELECT sealed FROM key_check WHERE id = 1"

func (k keyCheckTx) KeyCheck(ctx context.Context) ([]byte, bool, error) {
	var sealed []byte
	err := k.tx.QueryRow(ctx, selectKeyCheck).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	return sealed, err == nil, err
}

func (k keyCheckTx) NewestWebhookSecret(ctx context.Context) (string, []byte, bool, error) {
	var connID string
	var sealed []byte
	err := k.tx.QueryRow(ctx, "SELECT connection_id, sealed FROM webhook_secrets ORDER BY created_at DESC LIMIT 1").Scan(&connID, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, false, nil
	}
	return connID, sealed, err == nil, err
}

// RecordKeyCheck inserts unless another replica won the race, then reads
// whichever value is there: READ COMMITTED sees the winner's once its
// insert has committed.
func (k keyCheckTx) RecordKeyCheck(ctx context.Context, sealed []byte) ([]byte, error) {
	if _, err := k.tx.Exec(ctx, "INSERT INTO key_check (id, sealed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING", sealed, k.now); err != nil {
		return nil, err
	}
	var stored []byte
	err := k.tx.QueryRow(ctx, selectKeyCheck).Scan(&stored)
	return stored, err
}
