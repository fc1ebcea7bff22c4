package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

const connectionColumns = "id, name, provider_type, region, arn_service, status, status_reason, host_id, created_at, updated_at"

// Row locks taken on a live connection by writes that depend on it.
const (
	// keepLive: the connection stays live (DeleteConnection waits) until
	// the commit.
	keepLive = "FOR SHARE"
	// serialize: besides, other writers of the connection that take this
	// lock wait their turn (read-modify-write of its secrets or tags).
	serialize = "FOR NO KEY UPDATE"
)

// CreateConnection inserts c and its tags. The quota counts the live
// connections of c's home region, as AWS's is per region. The id and name checks are
// backed by the primary key and the unique index of live names; with a
// quota, creations (of every replica) are serialized by an advisory lock so
// that two cannot both take the last slot.
func (s *Store) CreateConnection(ctx context.Context, c store.Connection, tags []store.Tag, maxConnections int) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx pgx.Tx) error {
		if maxConnections > 0 {
			if err := s.lock(ctx, tx, "connections"); err != nil {
				return err
			}
		}
		if err := checkNewConnection(ctx, tx, c, maxConnections); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO connections ("+connectionColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
			c.ID, c.Name, c.ProviderType, c.Region, arnService(c.Service), c.Status, c.StatusReason, c.HostID, now, now); err != nil {
			return alreadyExists(err)
		}
		if len(c.WebhookSecret) > 0 {
			if err := insertSecret(ctx, tx, c.ID, c.WebhookSecret, now); err != nil {
				return err
			}
		}
		return putTags(ctx, tx, store.KindConnection, c.ID, tags)
	})
	if err != nil {
		return fmt.Errorf("create connection %s: %w", c.ID, err)
	}
	return nil
}

func checkNewConnection(ctx context.Context, tx pgx.Tx, c store.Connection, maxConnections int) error {
	// Deleted rows count: a connection ID is never reused.
	n, err := count(ctx, tx, "SELECT COUNT(*) FROM connections WHERE id = $1", c.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("id: %w", store.ErrAlreadyExists)
	}
	n, err = count(ctx, tx, "SELECT COUNT(*) FROM connections WHERE name = $1 AND deleted_at IS NULL", c.Name)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("name %q: %w", c.Name, store.ErrAlreadyExists)
	}
	if maxConnections > 0 {
		n, err = count(ctx, tx, "SELECT COUNT(*) FROM connections WHERE region = $1 AND deleted_at IS NULL", c.Region)
		if err != nil {
			return err
		}
		if n >= maxConnections {
			return fmt.Errorf("quota %d: %w", maxConnections, store.ErrLimitExceeded)
		}
	}
	if c.HostID == "" {
		return nil
	}
	return checkHostAvailable(ctx, tx, c.HostID)
}

// checkHostAvailable also keeps the host row until the commit, so that a
// concurrent DeleteHost either sees the new connection or happens first.
func checkHostAvailable(ctx context.Context, tx pgx.Tx, id string) error {
	var status string
	if err := tx.QueryRow(ctx, "SELECT status FROM hosts WHERE id = $1 FOR SHARE", id).Scan(&status); err != nil {
		return fmt.Errorf("host %s: %w", id, notFound(err))
	}
	if status != store.StatusAvailable {
		return fmt.Errorf("host %s is %s: %w", id, status, store.ErrUnavailable)
	}
	return nil
}

// GetConnection returns the live connection id.
func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	c, err := scanConnection(s.pool.QueryRow(ctx,
		"SELECT "+connectionColumns+" FROM connections WHERE id = $1 AND deleted_at IS NULL", id))
	if err != nil {
		return store.Connection{}, fmt.Errorf("get connection %s: %w", id, notFound(err))
	}
	return c, nil
}

// ListConnections returns live connections matching f, ordered by ID.
func (s *Store) ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, error) {
	var args params
	q := "SELECT " + connectionColumns + " FROM connections WHERE deleted_at IS NULL AND id > " + args.add(p.After)
	if f.ProviderType != "" {
		q += " AND provider_type = " + args.add(f.ProviderType)
	}
	if f.HostID != "" {
		q += " AND host_id = " + args.add(f.HostID)
	}
	cs, err := queryAll(ctx, s.pool, scanConnection, args.page(q, "id", p), args...)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return cs, nil
}

func scanConnection(row scanner) (store.Connection, error) {
	var (
		c                store.Connection
		created, updated int64
	)
	err := row.Scan(&c.ID, &c.Name, &c.ProviderType, &c.Region, &c.Service, &c.Status, &c.StatusReason, &c.HostID, &created, &updated)
	if err != nil {
		return store.Connection{}, err
	}
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	return c, nil
}

// DeleteConnection marks the connection deleted, keeping its row so that
// its ID is never reused, and drops its tags, secrets and credentials.
// Writers that depend on the connection lock its row (keepLive), so they
// finish first or find it deleted.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := requireRow(tx.Exec(ctx,
			"UPDATE connections SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL", now, id))
		if err != nil {
			return err
		}
		for _, table := range []string{"webhook_secrets", "github_installations", "connection_credentials"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE connection_id = $1", id); err != nil {
				return err
			}
		}
		return deleteTags(ctx, tx, store.KindConnection, id)
	})
	if err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	return nil
}

// SetConnectionStatus records the connection's status and, for ERROR, why.
// A connection that becomes AVAILABLE releases the events held for it, in
// the same transaction, so none is left behind.
func (s *Store) SetConnectionStatus(ctx context.Context, id, status, reason string) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		return setStatus(ctx, tx, id, status, reason, s.now().UnixNano())
	})
	if err != nil {
		return fmt.Errorf("set connection %s status: %w", id, err)
	}
	return nil
}

// setStatus is SetConnectionStatus inside a write transaction.
func setStatus(ctx context.Context, tx pgx.Tx, id, status, reason string, now int64) error {
	err := requireRow(tx.Exec(ctx,
		"UPDATE connections SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4 AND deleted_at IS NULL",
		status, reason, now, id))
	if err != nil || status != store.StatusAvailable {
		return err
	}
	_, err = tx.Exec(ctx, "UPDATE events SET held = false WHERE connection_id = $1 AND held", id)
	return err
}

// lockLiveConnection locks the row of live connection connID with mode
// (keepLive or serialize); store.ErrNotFound if it is unknown or deleted.
func lockLiveConnection(ctx context.Context, tx pgx.Tx, connID, mode string) error {
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM connections WHERE id = $1 AND deleted_at IS NULL "+mode, connID).Scan(&one)
	if err != nil {
		return fmt.Errorf("connection %s: %w", connID, notFound(err))
	}
	return nil
}

// arnService is the ARN service prefix a new resource is stored with.
func arnService(s string) string {
	if s == "" {
		return store.ServiceCodeConnections
	}
	return s
}
