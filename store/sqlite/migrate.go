package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// migrationFiles holds the schema history, one file per version, named
// NNNN_description.sql and numbered from 1 without gaps.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	sql     string
}

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(entries))
	for i, e := range entries { // ReadDir sorts by name
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", e.Name(), i+1)
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, sql: string(b)})
	}
	return ms, nil
}

// migrate applies the migrations newer than the database's schema version,
// each in its own transaction, and refuses a database from a newer binary.
func migrate(ctx context.Context, w *sql.DB, now func() time.Time, log *zap.Logger) error {
	ms, err := loadMigrations()
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
			return fmt.Errorf("apply migration %d: %w", m.version, err)
		}
		log.Info("applied schema migration", zap.Int("version", m.version))
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

func apply(ctx context.Context, w *sql.DB, m migration, now func() time.Time) error {
	return inTx(ctx, w, nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
			m.version, now().UnixNano())
		return err
	})
}
