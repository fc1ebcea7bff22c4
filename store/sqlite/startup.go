package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	sqlitedriver "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

// ErrDamaged reports a database file that fails SQLite's integrity check.
// Errors that wrap it are *DamageError, which names the damage.
var ErrDamaged = errors.New("database is damaged")

// DamageError is what SQLite's integrity check found, one problem per
// entry as SQLite words it (table, page, cell).
type DamageError struct {
	Problems []string
}

func (e *DamageError) Error() string {
	return ErrDamaged.Error() + ": " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrDamaged) hold.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// maxProblems bounds what a check reports: enough to see where the damage
// is, without listing every row of a ruined index.
const maxProblems = 100

// prepare runs on the writer before the store is used, then brings the
// schema up to date. After an unclean shutdown it checks the file for
// damage first (quick_check), so that damage is found at start rather than
// by the first request that reads the damaged page. After a clean Close it
// does not: the check reads the whole file, a minute for a million events
// on a cold cache, and Check does it on demand.
func prepare(ctx context.Context, w *sql.DB, now func() time.Time, log *zap.Logger) error {
	// The first connection runs the DSN pragmas, which already fail for a
	// file that is not a database or cannot be written.
	if err := w.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	unclean, err := uncleanShutdown(ctx, w)
	if err != nil {
		return err
	}
	if unclean {
		log.Warn("the store was not closed cleanly; checking the database file")
		start := time.Now()
		if err := check(ctx, w, "quick_check"); err != nil {
			return err
		}
		log.Info("database file checked", zap.Duration("took", time.Since(start)))
	}
	return migrate(ctx, w, now, log)
}

// uncleanShutdown reports whether the last process to use the file stopped
// without closing the store. Close checkpoints the WAL and, as the last
// connection, SQLite deletes it; a process that dies leaves it behind with
// the frames written since the last checkpoint. (A WAL left empty means
// the crash came right after a checkpoint had synced the file: nothing to
// check.) Opening a connection does not touch the WAL, so this holds on
// the writer's first connection. It needs no marker of its own, which a
// crash could leave stale or a second writer could clear.
func uncleanShutdown(ctx context.Context, db *sql.DB) (bool, error) {
	var seq int
	var name, file string
	if err := db.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		return false, fmt.Errorf("database file: %w", err)
	}
	fi, err := os.Stat(file + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for a WAL left behind: %w", err)
	}
	return fi.Size() > 0, nil
}

// Check runs SQLite's full integrity check (every page, every index entry
// against its row) on the read pool, so writes go on meanwhile; it reads
// the whole file. It returns a *DamageError (ErrDamaged) naming the damage.
func (s *Store) Check(ctx context.Context) error {
	if err := check(ctx, s.r, "integrity_check"); err != nil {
		return fmt.Errorf("check store %s: %w", s.path, err)
	}
	return nil
}

// check runs pragma (integrity_check or quick_check), which answers one
// row "ok" or a row per problem. Damage bad enough to stop the check ends
// it with SQLITE_CORRUPT after the problems found so far: that is damage
// too, not a failure to check.
func check(ctx context.Context, db *sql.DB, pragma string) error {
	problems, err := checkRows(ctx, db, fmt.Sprintf("PRAGMA %s(%d)", pragma, maxProblems))
	var se *sqlitedriver.Error
	if errors.As(err, &se) && (se.Code()&0xff == sqlitelib.SQLITE_CORRUPT || se.Code()&0xff == sqlitelib.SQLITE_NOTADB) {
		problems, err = append(problems, se.Error()), nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", pragma, err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil
	}
	return &DamageError{Problems: problems}
}

// checkRows reads the rows of a check, keeping them when it fails midway.
func checkRows(ctx context.Context, db *sql.DB, query string) ([]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return problems, err
		}
		// SQLite prefixes the first problem with "*** in database main ***\n".
		problems = append(problems, strings.TrimPrefix(p, "*** in database main ***\n"))
	}
	return problems, rows.Err()
}
