package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// migrationFiles holds the schema history, one file per version, named
// NNNN_description.sql and numbered from 1 without gaps.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the migrations newer than the database's schema version,
// each in its own transaction, and refuses a database from a newer binary.
func migrate(ctx context.Context, w *sql.DB, now func() time.Time, log *zap.Logger) error {
	ms, err := store.LoadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	version, err := schemaVersion(ctx, w)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(ms) {
		return fmt.Errorf("schema version %d is newer than this binary supports (%d)", version, len(ms))
	}
	for _, m := range ms[version:] {
		if err := apply(ctx, w, m, now); err != nil {
			return fmt.Errorf("apply migration %d: %w", m.Version, err)
		}
		log.Info("applied schema migration", zap.Int("version", m.Version))
	}
	return nil
}

// schemaVersion returns the newest applied migration, 0 for a new database.
func schemaVersion(ctx context.Context, w *sql.DB) (int, error) {
	var version int
	err := inTx(ctx, w, nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return err
		}
		// A write that matches no row still needs write access, so a
		// read-only file fails here, at open, even when it is up to date.
		if _, err := tx.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version < 0"); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version)
	})
	return version, err
}

func apply(ctx context.Context, w *sql.DB, m store.Migration, now func() time.Time) error {
	return inTx(ctx, w, nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			m.Version, now().UnixNano())
		return err
	})
}
