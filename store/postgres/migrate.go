package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
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

// migrate applies the migrations newer than the schema's version, each in
// its own transaction, and refuses a schema from a newer binary.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
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
func (s *Store) migrateOnce(ctx context.Context, ms []migration) (applied int, err error) {
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
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %d: %w", m.version, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
			m.version, s.now().UnixNano()); err != nil {
			return fmt.Errorf("apply migration %d: %w", m.version, err)
		}
		applied = m.version
		return nil
	})
	return applied, err
}
