package store

import (
	"context"
	"fmt"
)

// KeyCheckTx is what EnsureKeyCheck needs from one write transaction of a
// store; each store implements it in its own SQL dialect.
type KeyCheckTx interface {
	// KeyCheck returns the recorded key check value; ok is false when
	// there is none.
	KeyCheck(ctx context.Context) (sealed []byte, ok bool, err error)
	// NewestWebhookSecret returns the most recently created webhook
	// secret's connection id and sealed value; ok is false when there is
	// none.
	NewestWebhookSecret(ctx context.Context) (connID string, sealed []byte, ok bool, err error)
	// RecordKeyCheck records sealed unless a value is already recorded
	// (another replica's, in a race) and returns the value recorded.
	RecordKeyCheck(ctx context.Context, sealed []byte) ([]byte, error)
}

// EnsureKeyCheck is both stores' EnsureKeyCheck, run inside their write
// transaction: it returns the store's key check value, which the daemon
// checks its master key against. A store without one (new, or older than
// the key check) records sealed, provided fits accepts the newest webhook
// secret already stored (its connection id and sealed value), so that a
// wrong key at the first start after an upgrade is refused rather than
// recorded. fits's error is returned, wrapped, and nothing is written.
func EnsureKeyCheck(ctx context.Context, tx KeyCheckTx, sealed []byte, fits func(connID string, sealed []byte) error) ([]byte, error) {
	stored, ok, err := tx.KeyCheck(ctx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("key check: %w", err)
	case ok:
		return stored, nil
	}
	connID, secret, ok, err := tx.NewestWebhookSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("key check: newest webhook secret: %w", err)
	}
	if ok {
		if err := fits(connID, secret); err != nil {
			return nil, fmt.Errorf("key check: %w", err)
		}
	}
	stored, err = tx.RecordKeyCheck(ctx, sealed)
	if err != nil {
		return nil, fmt.Errorf("key check: record: %w", err)
	}
	return stored, nil
}
