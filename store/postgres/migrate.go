package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// ErrSchemaTooNew: the database was migrated by a newer forgelink, whose
// schema this binary does not know.
var ErrSchemaTooNew = errors.New("schema is newer than this binary supports")

// migrationFiles holds the schema history, one file per version, named
// NNNN_description.sql and numbered from 1 without gaps, like (and in step
// with) store/sqlite's.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the migrations newer than the schema's version, each in
// its own transaction, and refuses a schema from a newer binary.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := store.LoadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	for {
		applied, err := s.migrateOnce(ctx, ms)
		if err != nil || applied == 0 {
			return err
		}
		s.log.Info("applied schema migration", zap.Int("version", applied))
	}
}

// migrateOnce applies the next pending migration and returns its version,
// or 0 when the schema is up to date. It holds the schema's migration lock
// (a transaction-scoped advisory lock) from before it reads the version
// until its commit, so that replicas starting together apply each
// migration once: the others wait, then find it applied. Even the
// bookkeeping table is created under the lock: concurrent CREATE TABLE IF
// NOT EXISTS can fail in PostgreSQL.
func (s *Store) migrateOnce(ctx context.Context, ms []store.Migration) (applied int, err error) {
	err = s.write(ctx, func(tx pgx.Tx) error {
		if err := s.lock(ctx, tx, "migrate"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return err
		}
		var version int
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if version > len(ms) {
			return fmt.Errorf("%w: version %d, this binary knows %d", ErrSchemaTooNew, version, len(ms))
		}
		if version == len(ms) {
			return nil
		}
		m := ms[version]
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply migration %d: %w", m.Version, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
			m.Version, s.now().UnixNano()); err != nil {
			return fmt.Errorf("apply migration %d: %w", m.Version, err)
		}
		applied = m.Version
		return nil
	})
	return applied, err
}
