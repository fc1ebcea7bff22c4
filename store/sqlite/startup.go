package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// prepare runs on the writer before the store is used: it detects a damaged
// file at start rather than on the first request that reads the damaged
// page, then brings the schema up to date.
func prepare(ctx context.Context, w *sql.DB, now func() time.Time, log *zap.Logger) error {
	// The first connection runs the DSN pragmas, which already fail for a
	// file that is not a database or cannot be written.
	if err := w.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	var res string
	if err := w.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		return fmt.Errorf("check database: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("database is damaged: %s", strings.ReplaceAll(res, "\n", "; "))
	}
	return migrate(ctx, w, now, log)
}
