package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

const hookColumns = "connection_id, repository, hook_id, url, secret_created_at, state, last_error, failures, checked_at, lease_owner, lease_until"

// ClaimHook leases the hook row of (connID, repository) to owner until
// until, creating it (HookPending) if there is none. The claim succeeds
// when the row is new, its lease ran out by now, or owner holds it
// already; either way the row is returned as it stands after the claim.
// ErrNotFound if the connection is not live. The upsert decides: claimers
// racing for one row (from any replica) wait for each other's insert or
// update and re-check the lease on the row as it then is, so one wins.
func (s *Store) ClaimHook(ctx context.Context, connID, repository, owner string, now, until time.Time) (store.RegisteredHook, bool, error) {
	var (
		h       store.RegisteredHook
		claimed bool
	)
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := lockLiveConnection(ctx, tx, connID, keepLive); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO registered_hooks (connection_id, repository, state, lease_owner, lease_until)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connection_id, repository) DO UPDATE
			SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE registered_hooks.lease_until <= $6 OR registered_hooks.lease_owner = excluded.lease_owner`,
			connID, repository, store.HookPending, owner, until.UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		claimed = tag.RowsAffected() > 0
		h, err = scanHook(tx.QueryRow(ctx, "SELECT "+hookColumns+
			" FROM registered_hooks WHERE connection_id = $1 AND repository = $2", connID, repository))
		return err
	})
	if err != nil {
		return store.RegisteredHook{}, false, fmt.Errorf("claim hook of %s on %s: %w", connID, repository, err)
	}
	return h, claimed, nil
}

// CompleteHook records the outcome of an attempt on a claimed hook and
// ends the lease of h.LeaseOwner. ErrLeaseLost if that owner no longer
// holds it: the outcome is then not recorded.
func (s *Store) CompleteHook(ctx context.Context, h store.RegisteredHook) error {
	err := requireRow(s.pool.Exec(ctx, `UPDATE registered_hooks SET hook_id = $1, url = $2, secret_created_at = $3,
		state = $4, last_error = $5, failures = $6, checked_at = $7, lease_owner = '', lease_until = 0
		WHERE connection_id = $8 AND repository = $9 AND lease_owner = $10`,
		h.HookID, h.URL, nanosOrZero(h.SecretCreatedAt), h.State, h.LastError, h.Failures, nanosOrZero(h.CheckedAt),
		h.ConnectionID, h.Repository, h.LeaseOwner))
	if err != nil {
		return fmt.Errorf("complete hook of %s on %s: %w", h.ConnectionID, h.Repository, leaseLost(err))
	}
	return nil
}

// ReleaseHook ends owner's lease without recording anything; nothing
// happens if owner does not hold it.
func (s *Store) ReleaseHook(ctx context.Context, connID, repository, owner string) error {
	_, err := s.pool.Exec(ctx, `UPDATE registered_hooks SET lease_owner = '', lease_until = 0
		WHERE connection_id = $1 AND repository = $2 AND lease_owner = $3`, connID, repository, owner)
	if err != nil {
		return fmt.Errorf("release hook of %s on %s: %w", connID, repository, err)
	}
	return nil
}

// DeleteRegisteredHook removes the row owner holds the lease of, once the
// provider's hook is gone. ErrLeaseLost if owner does not hold it.
func (s *Store) DeleteRegisteredHook(ctx context.Context, connID, repository, owner string) error {
	err := requireRow(s.pool.Exec(ctx,
		"DELETE FROM registered_hooks WHERE connection_id = $1 AND repository = $2 AND lease_owner = $3", connID, repository, owner))
	if err != nil {
		return fmt.Errorf("delete hook of %s on %s: %w", connID, repository, leaseLost(err))
	}
	return nil
}

// DeleteRegisteredHooks removes every hook row of the connection, leased
// or not: the connection is going away.
func (s *Store) DeleteRegisteredHooks(ctx context.Context, connID string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM registered_hooks WHERE connection_id = $1", connID); err != nil {
		return fmt.Errorf("delete hooks of %s: %w", connID, err)
	}
	return nil
}

// RegisteredHooks returns the connection's hook rows, ordered by
// repository.
func (s *Store) RegisteredHooks(ctx context.Context, connID string) ([]store.RegisteredHook, error) {
	hooks, err := queryAll(ctx, s.pool, scanHook,
		"SELECT "+hookColumns+" FROM registered_hooks WHERE connection_id = $1 ORDER BY repository", connID)
	if err != nil {
		return nil, fmt.Errorf("hooks of %s: %w", connID, err)
	}
	return hooks, nil
}

// HoldPreviousWebhookSecrets keeps the connection's rotated-out secrets
// that are still valid at now valid until at least until: some hook at the
// provider still signs with one of them. It never revives an expired
// secret nor shortens an overlap. It waits for (and is waited for by)
// rotations of the connection.
func (s *Store) HoldPreviousWebhookSecrets(ctx context.Context, connID string, now, until time.Time) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := lockLiveConnection(ctx, tx, connID, serialize); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE webhook_secrets SET expires_at = $1
			WHERE connection_id = $2 AND expires_at IS NOT NULL AND expires_at > $3 AND expires_at < $1`,
			until.UnixNano(), connID, now.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("hold previous webhook secrets of %s: %w", connID, err)
	}
	return nil
}

func scanHook(row scanner) (store.RegisteredHook, error) {
	var (
		h                         store.RegisteredHook
		secret, checked, leaseEnd int64
	)
	err := row.Scan(&h.ConnectionID, &h.Repository, &h.HookID, &h.URL, &secret, &h.State, &h.LastError, &h.Failures,
		&checked, &h.LeaseOwner, &leaseEnd)
	if err != nil {
		return store.RegisteredHook{}, notFound(err)
	}
	h.SecretCreatedAt, h.CheckedAt, h.LeaseUntil = timeOrZero(secret), timeOrZero(checked), timeOrZero(leaseEnd)
	return h, nil
}

// leaseLost turns "no row matched the owner" into store.ErrLeaseLost.
func leaseLost(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrLeaseLost
	}
	return err
}
