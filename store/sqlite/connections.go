package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/forgelink/forgelink/store"
)

const connectionColumns = "id, name, provider_type, region, arn_service, status, status_reason, host_id, created_at, updated_at"

// CreateConnection inserts c and its tags. The quota counts the live
// connections of c's home region, as AWS's is per region. Every check runs inside the write
// transaction, so concurrent creations cannot both take a name or the last
// slot of the quota.
func (s *Store) CreateConnection(ctx context.Context, c store.Connection, tags []store.Tag, maxConnections int) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := checkNewConnection(ctx, tx, c, maxConnections); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO connections ("+connectionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

func checkNewConnection(ctx context.Context, tx *sql.Tx, c store.Connection, maxConnections int) error {
	// Deleted rows count: a connection ID is never reused.
	n, err := count(ctx, tx, "SELECT COUNT(*) FROM connections WHERE id = ?", c.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("id: %w", store.ErrAlreadyExists)
	}
	n, err = count(ctx, tx, "SELECT COUNT(*) FROM connections WHERE name = ? AND deleted_at IS NULL", c.Name)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("name %q: %w", c.Name, store.ErrAlreadyExists)
	}
	if maxConnections > 0 {
		n, err = count(ctx, tx, "SELECT COUNT(*) FROM connections WHERE region = ? AND deleted_at IS NULL", c.Region)
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

func checkHostAvailable(ctx context.Context, tx *sql.Tx, id string) error {
	var status string
	if err := tx.QueryRowContext(ctx, "SELECT status FROM hosts WHERE id = ?", id).Scan(&status); err != nil {
		return fmt.Errorf("host %s: %w", id, notFound(err))
	}
	if status != store.StatusAvailable {
		return fmt.Errorf("host %s is %s: %w", id, status, store.ErrUnavailable)
	}
	return nil
}

// GetConnection returns the live connection id.
func (s *Store) GetConnection(ctx context.Context, id string) (store.Connection, error) {
	c, err := scanConnection(s.r.QueryRowContext(ctx,
		"SELECT "+connectionColumns+" FROM connections WHERE id = ? AND deleted_at IS NULL", id))
	if err != nil {
		return store.Connection{}, fmt.Errorf("get connection %s: %w", id, notFound(err))
	}
	return c, nil
}

// ListConnections returns live connections matching f, ordered by ID.
func (s *Store) ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) ([]store.Connection, error) {
	q := "SELECT " + connectionColumns + " FROM connections WHERE deleted_at IS NULL AND id > ?"
	args := []any{p.After}
	if f.ProviderType != "" {
		q += " AND provider_type = ?"
		args = append(args, f.ProviderType)
	}
	if f.HostID != "" {
		q += " AND host_id = ?"
		args = append(args, f.HostID)
	}
	q += " ORDER BY id"
	if p.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, p.Limit)
	}
	cs, err := queryAll(ctx, s.r, scanConnection, q, args...)
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
// its ID is never reused, and drops its tags.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := requireRow(tx.ExecContext(ctx,
			"UPDATE connections SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL", now, now, id))
		if err != nil {
			return err
		}
		for _, table := range []string{"webhook_secrets", "github_installations", "connection_credentials"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE connection_id = ?", id); err != nil {
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
	err := s.write(ctx, func(tx *sql.Tx) error {
		return setStatus(ctx, tx, id, status, reason, s.now().UnixNano())
	})
	if err != nil {
		return fmt.Errorf("set connection %s status: %w", id, err)
	}
	return nil
}

// setStatus is SetConnectionStatus inside a write transaction.
func setStatus(ctx context.Context, tx *sql.Tx, id, status, reason string, now int64) error {
	err := requireRow(tx.ExecContext(ctx,
		"UPDATE connections SET status = ?, status_reason = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
		status, reason, now, id))
	if err != nil || status != store.StatusAvailable {
		return err
	}
	_, err = tx.ExecContext(ctx, "UPDATE events SET held = 0 WHERE connection_id = ? AND held = 1", id)
	return err
}

// arnService is the ARN service prefix a new resource is stored with.
func arnService(s string) string {
	if s == "" {
		return store.ServiceCodeConnections
	}
	return s
}
