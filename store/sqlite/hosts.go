package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/forgelink/forgelink/store"
)

const hostColumns = "id, name, provider_type, provider_endpoint, region, arn_service, status, status_message, vpc_json, created_at, updated_at"

// endpointChanged is the status message of a host whose endpoint moved: the
// provider app was registered for the old endpoint.
const endpointChanged = "provider endpoint changed; set the host up again"

// CreateHost inserts h and its tags. The quota counts hosts in all regions.
func (s *Store) CreateHost(ctx context.Context, h store.Host, tags []store.Tag, maxHosts int) error {
	vpc, err := marshalVPC(h.VPC)
	if err != nil {
		return fmt.Errorf("create host %s: %w", h.ID, err)
	}
	now := s.now().UnixNano()
	err = s.write(ctx, func(tx *sql.Tx) error {
		if maxHosts > 0 {
			n, err := count(ctx, tx, "SELECT COUNT(*) FROM hosts")
			if err != nil {
				return err
			}
			if n >= maxHosts {
				return fmt.Errorf("quota %d: %w", maxHosts, store.ErrLimitExceeded)
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO hosts ("+hostColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			h.ID, h.Name, h.ProviderType, h.ProviderEndpoint, h.Region, arnService(h.Service), h.Status, h.StatusMessage, vpc, now, now); err != nil {
			return alreadyExists(err)
		}
		return putTags(ctx, tx, store.KindHost, h.ID, tags)
	})
	if err != nil {
		return fmt.Errorf("create host %s: %w", h.ID, err)
	}
	return nil
}

// GetHost returns the host id.
func (s *Store) GetHost(ctx context.Context, id string) (store.Host, error) {
	h, err := getHost(ctx, s.r, id)
	if err != nil {
		return store.Host{}, fmt.Errorf("get host %s: %w", id, err)
	}
	return h, nil
}

func getHost(ctx context.Context, q querier, id string) (store.Host, error) {
	h, err := scanHost(q.QueryRowContext(ctx, "SELECT "+hostColumns+" FROM hosts WHERE id = ?", id))
	return h, notFound(err)
}

// ListHosts returns the hosts matching f, ordered by ID.
func (s *Store) ListHosts(ctx context.Context, f store.HostFilter, p store.Page) ([]store.Host, error) {
	q := "SELECT " + hostColumns + " FROM hosts WHERE id > ?"
	args := []any{p.After}
	if f.Region != "" {
		q += " AND region = ?"
		args = append(args, f.Region)
	}
	q += " ORDER BY id"
	if p.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, p.Limit)
	}
	hs, err := queryAll(ctx, s.r, scanHost, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return hs, nil
}

// UpdateHost applies the non-nil fields of u and returns the updated host.
func (s *Store) UpdateHost(ctx context.Context, id string, u store.HostUpdate) (store.Host, error) {
	var h store.Host
	err := s.write(ctx, func(tx *sql.Tx) error {
		old, err := getHost(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := updateHost(ctx, tx, applyUpdate(old, u), s.now().UnixNano()); err != nil {
			return err
		}
		h, err = getHost(ctx, tx, id)
		return err
	})
	if err != nil {
		return store.Host{}, fmt.Errorf("update host %s: %w", id, err)
	}
	return h, nil
}

// applyUpdate returns h with u applied.
func applyUpdate(h store.Host, u store.HostUpdate) store.Host {
	if u.ProviderEndpoint != nil && *u.ProviderEndpoint != h.ProviderEndpoint {
		h.ProviderEndpoint = *u.ProviderEndpoint
		h.Status, h.StatusMessage = store.StatusPending, endpointChanged
	}
	if u.VPC != nil {
		h.VPC = u.VPC
	}
	return h
}

func updateHost(ctx context.Context, tx *sql.Tx, h store.Host, now int64) error {
	vpc, err := marshalVPC(h.VPC)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx,
		"UPDATE hosts SET provider_endpoint = ?, status = ?, status_message = ?, vpc_json = ?, updated_at = ? WHERE id = ?",
		h.ProviderEndpoint, h.Status, h.StatusMessage, vpc, now, h.ID)
	return err
}

// SetHostStatus records the host's status and a message explaining it.
func (s *Store) SetHostStatus(ctx context.Context, id, status, message string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return requireRow(tx.ExecContext(ctx,
			"UPDATE hosts SET status = ?, status_message = ?, updated_at = ? WHERE id = ?",
			status, message, s.now().UnixNano(), id))
	})
	if err != nil {
		return fmt.Errorf("set host %s status: %w", id, err)
	}
	return nil
}

// DeleteHost removes the host and its tags unless a live connection uses it.
func (s *Store) DeleteHost(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireRow(tx.ExecContext(ctx, "DELETE FROM hosts WHERE id = ?", id)); err != nil {
			return err
		}
		// Checked after the delete so that an unknown host reports
		// ErrNotFound; returning an error rolls the delete back.
		var conn string
		err := tx.QueryRowContext(ctx,
			"SELECT id FROM connections WHERE host_id = ? AND deleted_at IS NULL ORDER BY id LIMIT 1", id).Scan(&conn)
		switch {
		case err == nil:
			return fmt.Errorf("used by connection %s: %w", conn, store.ErrInUse)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		// The host's registered provider app goes with it: its sealed
		// secrets must not outlive the host.
		if _, err := tx.ExecContext(ctx, "DELETE FROM provider_apps WHERE host_id = ?", id); err != nil {
			return err
		}
		return deleteTags(ctx, tx, store.KindHost, id)
	})
	if err != nil {
		return fmt.Errorf("delete host %s: %w", id, err)
	}
	return nil
}

func scanHost(row scanner) (store.Host, error) {
	var (
		h                store.Host
		vpc              sql.NullString
		created, updated int64
	)
	err := row.Scan(&h.ID, &h.Name, &h.ProviderType, &h.ProviderEndpoint, &h.Region, &h.Service, &h.Status, &h.StatusMessage,
		&vpc, &created, &updated)
	if err != nil {
		return store.Host{}, err
	}
	h.CreatedAt, h.UpdatedAt = fromNanos(created), fromNanos(updated)
	if vpc.Valid {
		h.VPC = new(store.VPCConfiguration)
		if err := json.Unmarshal([]byte(vpc.String), h.VPC); err != nil {
			return store.Host{}, fmt.Errorf("host %s vpc: %w", h.ID, err)
		}
	}
	return h, nil
}

// marshalVPC returns the vpc_json column value: NULL when there is no VPC.
func marshalVPC(vpc *store.VPCConfiguration) (sql.NullString, error) {
	if vpc == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(vpc)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode vpc: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}
