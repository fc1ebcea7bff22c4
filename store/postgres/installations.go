package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/forgelink/forgelink/store"
)

// SetGitHubInstallation records (or replaces) the GitHub App installation
// of a live connection.
func (s *Store) SetGitHubInstallation(ctx context.Context, connID string, inst store.GitHubInstallation) error {
	now := s.now().UnixNano()
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := lockLiveConnection(ctx, tx, connID, keepLive); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO github_installations (connection_id, app_id, installation_id, account, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (connection_id) DO UPDATE SET app_id = excluded.app_id, installation_id = excluded.installation_id,
				account = excluded.account, updated_at = excluded.updated_at`,
			connID, inst.AppID, inst.InstallationID, inst.Account, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("set installation of %s: %w", connID, err)
	}
	return nil
}

// ConnectionsByInstallation returns the live connections completed with
// the given App installation, ordered by id. Several connections may share
// one installation.
func (s *Store) ConnectionsByInstallation(ctx context.Context, appID, installationID int64) ([]store.Connection, error) {
	conns, err := queryAll(ctx, s.pool, scanConnection,
		"SELECT "+prefixed("c.", connectionColumns)+` FROM connections c JOIN github_installations i ON i.connection_id = c.id
		WHERE i.app_id = $1 AND i.installation_id = $2 AND c.deleted_at IS NULL ORDER BY c.id`, appID, installationID)
	if err != nil {
		return nil, fmt.Errorf("connections of installation %d: %w", installationID, err)
	}
	return conns, nil
}
