package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/forgelink/forgelink/store"
)

const hookColumns = "connection_id, repository, hook_id, url, secret_created_at, state, last_error, failures, checked_at, lease_owner, lease_until"

// ClaimHook leases the hook row of (connID, repository) to owner until
// until, creating it (HookPending) if there is none. The claim succeeds
// when the row is new, its lease ran out by now, or owner holds it
// already; either way the row is returned as it stands after the claim.
// ErrNotFound if the connection is not live.
func (s *Store) ClaimHook(ctx context.Context, connID, repository, owner string, now, until time.Time) (store.RegisteredHook, bool, error) {
	var (
		h       store.RegisteredHook
		claimed bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireLiveConnection(ctx, tx, connID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO registered_hooks (connection_id, repository, state, lease_owner, lease_until)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (connection_id, repository) DO UPDATE
			SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE registered_hooks.lease_until <= ? OR registered_hooks.lease_owner = excluded.lease_owner`,
			connID, repository, store.HookPending, owner, until.UnixNano(), now.UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		claimed = n > 0
		h, err = scanHook(tx.QueryRowContext(ctx, "SELECT "+hookColumns+
			" FROM registered_hooks WHERE connection_id = ? AND repository = ?", connID, repository))
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := requireRow(tx.ExecContext(ctx, `UPDATE registered_hooks SET hook_id = ?, url = ?, secret_created_at = ?,
			state = ?, last_error = ?, failures = ?, checked_at = ?, lease_owner = '', lease_until = 0
			WHERE connection_id = ? AND repository = ? AND lease_owner = ?`,
			h.HookID, h.URL, nanosOrZero(h.SecretCreatedAt), h.State, h.LastError, h.Failures, nanosOrZero(h.CheckedAt),
			h.ConnectionID, h.Repository, h.LeaseOwner))
		return leaseLost(err)
	})
	if err != nil {
		return fmt.Errorf("complete hook of %s on %s: %w", h.ConnectionID, h.Repository, err)
	}
	return nil
}

// ReleaseHook ends owner's lease without recording anything; nothing
// happens if owner does not hold it.
func (s *Store) ReleaseHook(ctx context.Context, connID, repository, owner string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE registered_hooks SET lease_owner = '', lease_until = 0
			WHERE connection_id = ? AND repository = ? AND lease_owner = ?`, connID, repository, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release hook of %s on %s: %w", connID, repository, err)
	}
	return nil
}

// DeleteRegisteredHook removes the row owner holds the lease of, once the
// provider's hook is gone. ErrLeaseLost if owner does not hold it.
func (s *Store) DeleteRegisteredHook(ctx context.Context, connID, repository, owner string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := requireRow(tx.ExecContext(ctx,
			"DELETE FROM registered_hooks WHERE connection_id = ? AND repository = ? AND lease_owner = ?", connID, repository, owner))
		return leaseLost(err)
	})
	if err != nil {
		return fmt.Errorf("delete hook of %s on %s: %w", connID, repository, err)
	}
	return nil
}

// DeleteRegisteredHooks removes every hook row of the connection, leased
// or not: the connection is going away.
func (s *Store) DeleteRegisteredHooks(ctx context.Context, connID string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM registered_hooks WHERE connection_id = ?", connID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete hooks of %s: %w", connID, err)
	}
	return nil
}

// RegisteredHooks returns the connection's hook rows, ordered by
// repository.
func (s *Store) RegisteredHooks(ctx context.Context, connID string) ([]store.RegisteredHook, error) {
	hooks, err := queryAll(ctx, s.r, scanHook,
		"SELECT "+hookColumns+" FROM registered_hooks WHERE connection_id = ? ORDER BY repository", connID)
	if err != nil {
		return nil, fmt.Errorf("hooks of %s: %w", connID, err)
	}
	return hooks, nil
}

// HoldPreviousWebhookSecrets keeps the connection's rotated-out secrets
// that are still valid at now valid until at least until: some hook at the
// provider still signs with one of them. It never revives an expired
// secret nor shortens an overlap.
func (s *Store) HoldPreviousWebhookSecrets(ctx context.Context, connID string, now, until time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireLiveConnection(ctx, tx, connID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE webhook_secrets SET expires_at = ?
			WHERE connection_id = ? AND expires_at IS NOT NULL AND expires_at > ? AND expires_at < ?`,
			until.UnixNano(), connID, now.UnixNano(), until.UnixNano())
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

// nanosOrZero stores the zero time as 0, so that it reads back as zero.
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}
