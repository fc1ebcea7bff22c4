package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

const hostColumns = "id, name, provider_type, provider_endpoint, region, arn_service, status, status_message, vpc_json, created_at, updated_at"

// endpointChanged is the status message of a host whose endpoint moved: the
// provider app was registered for the old endpoint.
const endpointChanged = "provider endpoint changed; set the host up again"

// CreateHost inserts h and its tags. The quota counts hosts in all regions;
// with one, creations are serialized by an advisory lock.
func (s *Store) CreateHost(ctx context.Context, h store.Host, tags []store.Tag, maxHosts int) error {
	vpc, err := marshalVPC(h.VPC)
	if err != nil {
		return fmt.Errorf("create host %s: %w", h.ID, err)
	}
	now := s.now().UnixNano()
	err = s.write(ctx, func(tx pgx.Tx) error {
		if maxHosts > 0 {
			if err := s.lock(ctx, tx, "hosts"); err != nil {
				return err
			}
			n, err := count(ctx, tx, "SELECT COUNT(*) FROM hosts")
			if err != nil {
				return err
			}
			if n >= maxHosts {
				return fmt.Errorf("quota %d: %w", maxHosts, store.ErrLimitExceeded)
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO hosts ("+hostColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
	h, err := getHost(ctx, s.pool, id, "")
	if err != nil {
		return store.Host{}, fmt.Errorf("get host %s: %w", id, err)
	}
	return h, nil
}

// getHost reads host id; lock is a locking clause, or empty.
func getHost(ctx context.Context, q querier, id, lock string) (store.Host, error) {
	h, err := scanHost(q.QueryRow(ctx, "SELECT "+hostColumns+" FROM hosts WHERE id = $1 "+lock, id))
	return h, notFound(err)
}

// ListHosts returns the hosts matching f, ordered by ID.
func (s *Store) ListHosts(ctx context.Context, f store.HostFilter, p store.Page) ([]store.Host, error) {
	var args params
	q := "SELECT " + hostColumns + " FROM hosts WHERE id > " + args.add(p.After)
	if f.Region != "" {
		q += " AND region = " + args.add(f.Region)
	}
	hs, err := queryAll(ctx, s.pool, scanHost, args.page(q, "id", p), args...)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return hs, nil
}

// UpdateHost applies the non-nil fields of u and returns the updated host.
// The row is locked from the read to the write, so concurrent updates do
// not lose each other's changes.
func (s *Store) UpdateHost(ctx context.Context, id string, u store.HostUpdate) (store.Host, error) {
	var h store.Host
	err := s.write(ctx, func(tx pgx.Tx) error {
		old, err := getHost(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if err := updateHost(ctx, tx, applyUpdate(old, u), s.now().UnixNano()); err != nil {
			return err
		}
		h, err = getHost(ctx, tx, id, "")
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

func updateHost(ctx context.Context, tx pgx.Tx, h store.Host, now int64) error {
	vpc, err := marshalVPC(h.VPC)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx,
		"UPDATE hosts SET provider_endpoint = $1, status = $2, status_message = $3, vpc_json = $4, updated_at = $5 WHERE id = $6",
		h.ProviderEndpoint, h.Status, h.StatusMessage, vpc, now, h.ID)
	return err
}

// SetHostStatus records the host's status and a message explaining it.
func (s *Store) SetHostStatus(ctx context.Context, id, status, message string) error {
	err := requireRow(s.pool.Exec(ctx,
		"UPDATE hosts SET status = $1, status_message = $2, updated_at = $3 WHERE id = $4",
		status, message, s.now().UnixNano(), id))
	if err != nil {
		return fmt.Errorf("set host %s status: %w", id, err)
	}
	return nil
}

// DeleteHost removes the host, its tags and its provider app unless a live
// connection uses it. Creating a connection locks its host's row
// (checkHostAvailable), so the check below sees every connection that got
// past that lock.
func (s *Store) DeleteHost(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := requireRow(tx.Exec(ctx, "DELETE FROM hosts WHERE id = $1", id)); err != nil {
			return err
		}
		// Checked after the delete so that an unknown host reports
		// ErrNotFound; returning an error rolls the delete back.
		var conn string
		err := tx.QueryRow(ctx,
			"SELECT id FROM connections WHERE host_id = $1 AND deleted_at IS NULL ORDER BY id LIMIT 1", id).Scan(&conn)
		switch {
		case err == nil:
			return fmt.Errorf("used by connection %s: %w", conn, store.ErrInUse)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		// The host's registered provider app goes with it: its sealed
		// secrets must not outlive the host. SaveProviderApp updates the
		// host's row, so it cannot slip an app in behind this delete.
		if _, err := tx.Exec(ctx, "DELETE FROM provider_apps WHERE host_id = $1", id); err != nil {
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
		vpc              *string
		created, updated int64
	)
	err := row.Scan(&h.ID, &h.Name, &h.ProviderType, &h.ProviderEndpoint, &h.Region, &h.Service, &h.Status, &h.StatusMessage,
		&vpc, &created, &updated)
	if err != nil {
		return store.Host{}, err
	}
	h.CreatedAt, h.UpdatedAt = fromNanos(created), fromNanos(updated)
	if vpc != nil {
		h.VPC = new(store.VPCConfiguration)
		if err := json.Unmarshal([]byte(*vpc), h.VPC); err != nil {
			return store.Host{}, fmt.Errorf("host %s vpc: %w", h.ID, err)
		}
	}
	return h, nil
}

// marshalVPC returns the vpc_json column value: NULL when there is no VPC.
func marshalVPC(vpc *store.VPCConfiguration) (*string, error) {
	if vpc == nil {
		return nil, nil
	}
	b, err := json.Marshal(vpc)
	if err != nil {
		return nil, fmt.Errorf("encode vpc: %w", err)
	}
	js := string(b)
	return &js, nil
}
