// Package sqlite is forgelink's single-node store: one SQLite file in WAL
// mode, written through a single connection and read through a small pool.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	sqlitedriver "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"

	"github.com/forgelink/forgelink/store"
)

// readers is the size of the read pool. WAL lets readers run alongside the
// writer, so a few connections cover the control plane's concurrency.
const readers = 4

// pragmas apply to every connection of both pools, which is why they are in
// the DSN rather than executed once. busy_timeout covers checkpoints and
// other processes holding locks; synchronous=FULL makes a commit durable
// before it is acknowledged.
// page_size comes first because it only takes effect before the database
// has content: 16 KiB pages hold a typical webhook body whole, so a commit
// writes fewer, larger WAL frames (one system call each).
const pragmas = "_pragma=page_size(16384)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)" +
	"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"

// Store keeps forgelink's records in one SQLite file. It is safe for
// concurrent use.
type Store struct {
	// w has exactly one connection: SQLite allows one writer at a time, and
	// queueing in the pool is cheaper than SQLITE_BUSY retries. Its DSN makes
	// every transaction BEGIN IMMEDIATE, so checks made inside a write
	// transaction hold until it commits.
	w    *sql.DB
	r    *sql.DB // query_only connections
	now  func() time.Time
	log  *zap.Logger
	path string

	// events feeds the group-commit writer (writeEvents). It is unbuffered:
	// a send succeeds only while the writer runs, so nothing can be queued
	// after Close has drained it.
	events     chan *eventWrite
	closing    chan struct{}
	eventsDone chan struct{}
	// The hot statements, prepared once on the writer's one connection.
	insertEvent, insertDelivery, insertAttempt, settleDelivery *sql.Stmt
	readDelivery                                               *sql.Stmt     // on the read pool
	ck                                                         *sql.DB       // the checkpointer's connection
	checkpoints                                                chan struct{} // closed when the checkpointer has stopped
	lock                                                       *os.File      // held while open: one process per file

	owner atomic.Pointer[Owner] // the delivery engine deliveries are handed to
	// settles queue the owner's settlements for the writer's next batch.
	settleMu     sync.Mutex
	settles      []*settleWrite
	settleClosed bool
	settleReady  chan struct{}
	settleDones  sync.WaitGroup // settlements' done callbacks running
}

// Option configures Open.
type Option func(*Store)

// WithClock makes the store take timestamps from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// Open opens the database at path, creating it if needed, checks it for
// damage and applies pending migrations.
func Open(ctx context.Context, path string, log *zap.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{now: time.Now, log: log, path: path, events: make(chan *eventWrite), closing: make(chan struct{}), eventsDone: make(chan struct{}),
		settleReady: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	if err := s.open(ctx, path, log); err != nil {
		return nil, fmt.Errorf("open store: %s: %w", path, err)
	}
	s.checkpoints = make(chan struct{})
	go s.writeEvents()
	go s.checkpoint()
	log.Info("store opened", zap.String("path", path))
	return s, nil
}

func (s *Store) open(ctx context.Context, path string, log *zap.Logger) error {
	// The driver takes everything after '?' as DSN parameters.
	if strings.Contains(path, "?") {
		return errors.New("path must not contain '?'")
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return err
	}
	if err := restrictFiles(path, log); err != nil {
		return err
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	if err := s.openPools(ctx, path, log); err != nil {
		return errors.Join(err, lock.Close())
	}
	s.lock = lock
	return nil
}

// walLimit bounds the WAL: past it, the checkpointer starts the WAL over
// (RESTART), and journal_size_limit truncates the file to it when the
// writer does.
const walLimit = 64 << 20

// openPools opens the writer, the read pool and the checkpointer's
// connection, and prepares the writer's hot statements.
func (s *Store) openPools(ctx context.Context, path string, log *zap.Logger) error {
	// Checkpoints run in the background (checkpoint), not inline in
	// whichever commit crosses the WAL threshold.
	w, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=wal_autocheckpoint(0)"+fmt.Sprintf("&_pragma=journal_size_limit(%d)", walLimit)+"&_txlock=immediate")
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	if err := prepare(ctx, w, s.now, log); err != nil {
		return errors.Join(err, w.Close())
	}
	r, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		return errors.Join(err, w.Close())
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		return errors.Join(err, r.Close(), w.Close())
	}
	// The checkpointer waits little for locks: a RESTART that would hold
	// the writer up waiting for a reader gives up and tries again later.
	ck, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=busy_timeout(20)")
	if err != nil {
		return errors.Join(err, r.Close(), w.Close())
	}
	ck.SetMaxOpenConns(1)
	s.w, s.r, s.ck = w, r, ck
	for _, p := range []struct {
		db    *sql.DB
		stmt  **sql.Stmt
		query string
	}{{w, &s.insertEvent, insertEventSQL}, {w, &s.insertDelivery, insertDeliverySQL}, {w, &s.insertAttempt, insertAttemptSQL},
		{w, &s.settleDelivery, settleDeliverySQL}, {r, &s.readDelivery, readDeliverySQL}} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.query); err != nil {
			return errors.Join(err, ck.Close(), r.Close(), w.Close())
		}
	}
	return nil
}

// checkDir reports a missing or non-directory parent up front; SQLite would
// only say it is unable to open the database file.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// fileMode is the mode of the database and its -wal and -shm files: they
// hold every record, for the daemon's user alone.
const fileMode = 0o600

// restrictFiles creates the database file with fileMode before SQLite
// opens it (SQLite's unix VFS gives the -wal and -shm files the mode of
// the database file), and narrows existing files that are wider: left by
// an older forgelink, which let SQLite create them 0644.
func restrictFiles(path string, log *zap.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&^fileMode == 0 {
			continue // absent (or unreadable: SQLite will say), or narrow enough
		}
		if err := os.Chmod(p, fi.Mode().Perm()&fileMode); err != nil {
			log.Warn("database file is accessible to group or others and cannot be narrowed", zap.String("path", p), zap.Error(err))
			continue
		}
		log.Info("narrowed the database file's mode to the daemon's user", zap.String("path", p),
			zap.String("was", fmt.Sprintf("%04o", fi.Mode().Perm())))
	}
	return nil
}

// checkpointEvery is how often the WAL is copied back into the database.
const checkpointEvery = time.Second

// checkpoint moves the WAL into the database file in the background. A
// PASSIVE checkpoint never blocks the writer or readers; it does what it can.
func (s *Store) checkpoint() {
	defer close(s.checkpoints)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			s.checkpointOnce()
		}
	}
}

// checkpointOnce runs on its own connection, never the writer's: a
// checkpoint there queued every commit behind it and showed in the ingest
// tail.
func (s *Store) checkpointOnce() {
	// PASSIVE copies what it can without holding anyone up.
	if _, err := s.ck.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		s.log.Warn("wal checkpoint", zap.Error(err))
		return
	}
	// Under a steady stream of writes a PASSIVE checkpoint never finds the
	// WAL idle enough for the writer to start it over, and the file grows
	// without bound. RESTART copies the few frames written since and
	// starts it over; it holds writes up for that remainder only. Busy (a
	// reader on the old frames) is no failure: the next round tries again.
	if fi, err := os.Stat(s.path + "-wal"); err != nil || fi.Size() <= walLimit {
		return
	}
	var busy, frames, done int
	if err := s.ck.QueryRow("PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &done); err != nil {
		s.log.Warn("wal checkpoint", zap.String("mode", "RESTART"), zap.Error(err))
	}
}

// Ping reports whether both pools can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := errors.Join(s.r.PingContext(ctx), s.w.PingContext(ctx)); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Close closes both pools. It first moves the WAL into the main file so that
// a stopped daemon leaves one self-contained file behind.
func (s *Store) Close() error {
	s.closeSettles()
	close(s.closing)
	<-s.eventsDone
	s.settleDones.Wait()
	<-s.checkpoints
	for _, stmt := range []*sql.Stmt{s.insertEvent, s.insertDelivery, s.insertAttempt, s.settleDelivery, s.readDelivery} {
		stmt.Close()
	}
	rerr := errors.Join(s.r.Close(), s.ck.Close())
	_, cerr := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	// The lock goes last: the next process finds the file checkpointed.
	if err := errors.Join(rerr, cerr, s.w.Close(), s.lock.Close()); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// write runs fn in a transaction on the writer and commits if fn succeeds.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.w, nil, fn)
}

// read runs fn in a read transaction, so that its queries see one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTx(ctx, s.r, &sql.TxOptions{ReadOnly: true}, fn)
}

// writeThen is write, with after run once fn's transaction has committed
// and before the writer's connection is free for the next write: a
// hand-off to the delivery engine in after is ordered with every write.
func (s *Store) writeThen(ctx context.Context, fn func(tx *sql.Tx) error, after func()) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := commit(tx, fn); err != nil {
		return err
	}
	after()
	return nil
}

func inTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	return commit(tx, fn)
}

// commit runs fn in tx and commits if fn succeeds.
func commit(tx *sql.Tx, fn func(tx *sql.Tx) error) error {
	defer tx.Rollback() // no-op once committed
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// querier is what *sql.DB and *sql.Tx share, so that lookups run on the
// read pool or inside a transaction alike.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs q and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

func count(ctx context.Context, q querier, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// requireRow turns an update or delete that matched nothing into
// store.ErrNotFound.
func requireRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// notFound maps sql.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// alreadyExists maps a unique-constraint violation to store.ErrAlreadyExists,
// keeping SQLite's message because it names the columns.
func alreadyExists(err error) error {
	var se *sqlitedriver.Error
	if errors.As(err, &se) && (se.Code() == sqlitelib.SQLITE_CONSTRAINT_UNIQUE ||
		se.Code() == sqlitelib.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("%w: %s", store.ErrAlreadyExists, se.Error())
	}
	return err
}

// prefixed qualifies each column of a comma-separated list for a join.
func prefixed(prefix, columns string) string {
	return prefix + strings.ReplaceAll(columns, ", ", ", "+prefix)
}

func fromNanos(n int64) time.Time {
	return time.Unix(0, n).UTC()
}
