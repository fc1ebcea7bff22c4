package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/forgelink/forgelink/store"
)

// EnsureKeyCheck returns the store's key check value, recording sealed
// first when there is none (see store.EnsureKeyCheck).
func (s *Store) EnsureKeyCheck(ctx context.Context, sealed []byte, fits func(connID string, sealed []byte) error) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		stored, err = store.EnsureKeyCheck(ctx, keyCheckTx{tx: tx, now: s.now().UnixNano()}, sealed, fits)
		return err
	})
	return stored, err
}

// keyCheckTx is store.KeyCheckTx in SQLite; the store's one writer
// connection means no other writer can race the insert.
type keyCheckTx struct {
	tx  *sql.Tx
	now int64
}

func (k keyCheckTx) KeyCheck(ctx context.Context) ([]byte, bool, error) {
	var sealed []byte
	err := k.tx.QueryRowContext(ctx, "SELECT sealed FROM key_check WHERE id = 1").Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return sealed, err == nil, err
}

func (k keyCheckTx) NewestWebhookSecret(ctx context.Context) (string, []byte, bool, error) {
	var connID string
	var sealed []byte
	err := k.tx.QueryRowContext(ctx, "SELECT connection_id, sealed FROM webhook_secrets ORDER BY created_at DESC LIMIT 1").Scan(&connID, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	return connID, sealed, err == nil, err
}

func (k keyCheckTx) RecordKeyCheck(ctx context.Context, sealed []byte) ([]byte, error) {
	_, err := k.tx.ExecContext(ctx, "INSERT INTO key_check (id, sealed, created_at) VALUES (1, ?, ?)", sealed, k.now)
	return sealed, err
}
