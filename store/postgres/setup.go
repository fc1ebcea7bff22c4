package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

const providerAppColumns = "id, kind, host_id, app_id, slug, name, client_id, owner, html_url, sealed, created_at, updated_at"

// CreateNonce records a single-use set-up nonce valid until expiresAt.
func (s *Store) CreateNonce(ctx context.Context, id, purpose string, expiresAt time.Time) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO setup_nonces (id, purpose, expires_at) VALUES ($1, $2, $3)",
		id, purpose, expiresAt.UnixNano())
	if err != nil {
		return fmt.Errorf("create nonce: %w", alreadyExists(err))
	}
	return nil
}

// ConsumeNonce deletes the nonce id of purpose if it is still valid at now:
// store.ErrNotFound when it is unknown, of another purpose, already used or
// expired. Expired nonces are deleted on the way. Of concurrent consumers
// of one nonce, the delete lets one through.
func (s *Store) ConsumeNonce(ctx context.Context, id, purpose string, now time.Time) error {
	// A missing nonce is reported after the commit, so that the expired
	// ones are collected either way.
	var missing error
	err := s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM setup_nonces WHERE expires_at <= $1", now.UnixNano()); err != nil {
			return err
		}
		missing = requireRow(tx.Exec(ctx, "DELETE FROM setup_nonces WHERE id = $1 AND purpose = $2", id, purpose))
		if errors.Is(missing, store.ErrNotFound) {
			return nil
		}
		return missing
	})
	if err = cmp.Or(err, missing); err != nil {
		return fmt.Errorf("consume nonce: %w", err)
	}
	return nil
}

// SaveProviderApp records (or replaces) a provider app. A host's app
// (HostID set) makes the host AVAILABLE in the same transaction: a host is
// never AVAILABLE without its app. app.CreatedAt and UpdatedAt are ignored.
func (s *Store) SaveProviderApp(ctx context.Context, app store.ProviderApp) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx pgx.Tx) error {
		if app.HostID != "" {
			err := requireRow(tx.Exec(ctx,
				"UPDATE hosts SET status = $1, status_message = '', updated_at = $2 WHERE id = $3",
				store.StatusAvailable, now, app.HostID))
			if err != nil {
				return fmt.Errorf("host %s: %w", app.HostID, err)
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO provider_apps ("+providerAppColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, host_id = excluded.host_id, app_id = excluded.app_id,
				slug = excluded.slug, name = excluded.name, client_id = excluded.client_id, owner = excluded.owner,
				html_url = excluded.html_url, sealed = excluded.sealed, updated_at = excluded.updated_at`,
			app.ID, app.Kind, app.HostID, app.AppID, app.Slug, app.Name, app.ClientID, app.Owner, app.HTMLURL, nonNil(app.Sealed), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("save provider app %s: %w", app.ID, err)
	}
	return nil
}

// GetProviderApp returns the provider app id.
func (s *Store) GetProviderApp(ctx context.Context, id string) (store.ProviderApp, error) {
	app, err := scanProviderApp(s.pool.QueryRow(ctx, "SELECT "+providerAppColumns+" FROM provider_apps WHERE id = $1", id))
	if err != nil {
		return store.ProviderApp{}, fmt.Errorf("get provider app %s: %w", id, notFound(err))
	}
	return app, nil
}

// ListProviderApps returns every provider app, oldest first.
func (s *Store) ListProviderApps(ctx context.Context) ([]store.ProviderApp, error) {
	apps, err := queryAll(ctx, s.pool, scanProviderApp, "SELECT "+providerAppColumns+" FROM provider_apps ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("list provider apps: %w", err)
	}
	return apps, nil
}

func scanProviderApp(row scanner) (store.ProviderApp, error) {
	var (
		a                store.ProviderApp
		created, updated int64
	)
	err := row.Scan(&a.ID, &a.Kind, &a.HostID, &a.AppID, &a.Slug, &a.Name, &a.ClientID, &a.Owner, &a.HTMLURL, &a.Sealed,
		&created, &updated)
	if err != nil {
		return store.ProviderApp{}, err
	}
	a.CreatedAt, a.UpdatedAt = fromNanos(created), fromNanos(updated)
	return a, nil
}

// RotateCredential replaces the sealed value and expiry of connection
// connID's credential, if it is still prev: a refreshed OAuth token must not
// overwrite a credential that a new set-up replaced meanwhile (of two
// replicas refreshing at once, the second finds prev gone). It leaves the
// connection's status alone. store.ErrNotFound when the credential is gone
// or is no longer prev.
func (s *Store) RotateCredential(ctx context.Context, connID string, prev, sealed []byte, expiresAt time.Time) error {
	err := requireRow(s.pool.Exec(ctx,
		"UPDATE connection_credentials SET sealed = $1, expires_at = $2, updated_at = $3 WHERE connection_id = $4 AND sealed = $5",
		nonNil(sealed), nanosOrNull(expiresAt), s.now().UnixNano(), connID, nonNil(prev)))
	if err != nil {
		return fmt.Errorf("rotate credential of %s: %w", connID, err)
	}
	return nil
}

// ExpiringCredentials returns the live connections, not in ERROR, whose
// credential expires before before, ordered by id.
func (s *Store) ExpiringCredentials(ctx context.Context, before time.Time) ([]store.Connection, error) {
	conns, err := queryAll(ctx, s.pool, scanConnection,
		"SELECT "+prefixed("c.", connectionColumns)+` FROM connections c JOIN connection_credentials k ON k.connection_id = c.id
		WHERE k.expires_at IS NOT NULL AND k.expires_at < $1 AND c.deleted_at IS NULL AND c.status <> $2 ORDER BY c.id`,
		before.UnixNano(), store.StatusError)
	if err != nil {
		return nil, fmt.Errorf("expiring credentials: %w", err)
	}
	return conns, nil
}
