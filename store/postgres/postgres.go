// Package postgres is forgelink's shared store: PostgreSQL through pgx, for
// several daemons (replicas) working on one database. It keeps the same
// records as store/sqlite, passes the same conformance suite
// (store/storetest), and adds what sharing needs: row locks and advisory
// locks where SQLite relied on its single writer.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/forgelink/forgelink/store"
)

// Store keeps forgelink's records in a PostgreSQL schema. It is safe for
// concurrent use, and several Stores (in several processes) may share one
// schema.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
	log  *zap.Logger
	// schema is the schema the store works in (current_schema()); it is
	// part of every advisory lock key, because advisory locks are
	// database-wide and other deployments may use other schemas of the
	// same database.
	schema string

	// events feeds the group-commit writers (writeEvents). It is
	// unbuffered: a send succeeds only while a writer runs, so nothing can
	// be queued after Close has drained it.
	events    chan *eventWrite
	closing   chan struct{}
	closeOnce sync.Once
	writers   sync.WaitGroup
}

// Option configures Open.
type Option func(*Store)

// WithClock makes the store take timestamps from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// defaultMaxConns sizes the pool unless the DSN's pool_max_conns does.
const defaultMaxConns = 32

// Open connects to the database dsn names (a URL or key=value connection
// string; pgxpool's pool_* parameters size the pool), and brings the schema
// its search_path selects up to date. Neither dsn nor the password it may
// hold appears in errors.
func Open(ctx context.Context, dsn string, log *zap.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{now: time.Now, log: log, events: make(chan *eventWrite), closing: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts passwords from parse errors only on a best-effort
		// basis, so its message is not passed on.
		return nil, errors.New("open store: the DSN is not a valid PostgreSQL connection string")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default is max(4, CPUs). Ingest holds at most
		// eventWriters connections; the rest serve the control plane and
		// the delivery engine, whose goroutines query at once.
		cfg.MaxConns = defaultMaxConns
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.prepare(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	for range eventWriters {
		s.writers.Go(s.writeEvents)
	}
	log.Info("store opened", zap.String("host", cfg.ConnConfig.Host), zap.String("database", cfg.ConnConfig.Database),
		zap.String("schema", s.schema))
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if schema == nil {
		return errors.New("the search_path names no existing schema")
	}
	s.schema = *schema
	return s.migrate(ctx)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Close commits the events already queued, then closes the pool, waiting
// for connections in use to be returned. RecordEvent fails once Close has
// begun.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.writers.Wait()
	s.pool.Close()
	return nil
}

// write runs fn in a READ COMMITTED transaction and commits if fn
// succeeds. Checks that must hold until the commit take locks (row locks,
// or advisory locks for quotas): several replicas write at once.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// read runs fn in a read-only transaction, so that its queries see one
// snapshot.
func (s *Store) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// lockKey names an advisory lock: a 64-bit hash of the schema and parts.
// A collision only makes two unrelated writers wait for each other.
func (s *Store) lockKey(parts ...string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s.schema))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return int64(h.Sum64())
}

// lock takes the advisory lock named by parts for the rest of tx, waiting
// for other transactions (of any replica) holding it.
func (s *Store) lock(ctx context.Context, tx pgx.Tx, parts ...string) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.lockKey(parts...))
	return err
}

// tryLock takes the advisory lock named by parts for the rest of tx if no
// other transaction holds it, without waiting.
func (s *Store) tryLock(ctx context.Context, tx pgx.Tx, parts ...string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", s.lockKey(parts...)).Scan(&ok)
	return ok, err
}

// querier is what *pgxpool.Pool and pgx.Tx share, so that lookups run on
// the pool or inside a transaction alike.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scanner is what pgx.Row and pgx.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
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
	err := q.QueryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// params collects the arguments of a query built piece by piece; add
// returns the placeholder of the argument it adds.
type params []any

func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// page appends the order and limit of a listing.
func (p *params) page(query, order string, pg store.Page) string {
	query += " ORDER BY " + order
	if pg.Limit > 0 {
		query += " LIMIT " + p.add(pg.Limit)
	}
	return query
}

// requireRow turns a write that matched nothing into store.ErrNotFound.
func requireRow(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// notFound maps pgx.ErrNoRows to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// uniqueViolation is PostgreSQL's SQLSTATE for a unique constraint.
const uniqueViolation = "23505"

// alreadyExists maps a unique-constraint violation to
// store.ErrAlreadyExists, naming the constraint. The detail, which quotes
// the key (a set-up nonce, say), is left out.
func alreadyExists(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return fmt.Errorf("%w: constraint %s", store.ErrAlreadyExists, pe.ConstraintName)
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

// nanosOrNull is a nullable time column's value: NULL for the zero time.
func nanosOrNull(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// nanosOrZero stores the zero time as 0, so that it reads back as zero.
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

// timeOrNull reads a nullable time column.
func timeOrNull(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return fromNanos(*n)
}
