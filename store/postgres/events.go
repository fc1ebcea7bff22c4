package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/forgelink/forgelink/store"
)

const eventColumns = "id, connection_id, provider, delivery_id, kind, raw_kind, repository, held, received_at, headers, body, normalized, routed"

// insertDeliveriesSQL ends a statement whose CTE e holds the row of the
// event being routed, or none: it inserts one pending delivery per element
// of the arrays $1..$9 (see deliveryArgs), due at $10, only if e has a row.
const insertDeliveriesSQL = `INSERT INTO deliveries (id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete,
		message, state, next_attempt_at, created_at, updated_at)
	SELECT x.*, 'pending', $10::bigint, $10::bigint, $10::bigint FROM e CROSS JOIN
		unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::text[]) AS x`

// deliveryArgs returns the arguments of insertDeliveriesSQL.
func deliveryArgs(ds []store.Delivery, due int64) []any {
	var ids, events, conns, pipelines, targets, modes, branches, messages []string
	var incomplete []bool
	for _, d := range ds {
		ids, events, conns = append(ids, d.ID), append(events, d.EventID), append(conns, d.ConnectionID)
		pipelines, targets, modes = append(pipelines, d.Pipeline), append(targets, d.Target), append(modes, d.Mode)
		branches, incomplete, messages = append(branches, d.Branch), append(incomplete, d.FilesIncomplete), append(messages, string(d.Message))
	}
	return []any{ids, events, conns, pipelines, targets, modes, branches, incomplete, messages, due}
}

// recordEventsSQL records a batch of events (the arrays $1..$13, one
// element per event) and the deliveries of those that are new (the arrays
// $14..$24, one element per delivery: its event's id, its due time, its
// columns) in one statement, hence one transaction: the outbox. It returns
// the ids of the events inserted; the others were duplicates.
//
// Events are inserted in (connection, delivery id, arrival) order: of two
// events of a batch with one key the first to arrive is kept, and
// concurrent batches (other replicas) wait for each other's keys in one
// order, so they cannot deadlock. ON CONFLICT DO NOTHING, unlike DO
// UPDATE, accepts a key twice in one statement.
const recordEventsSQL = `WITH x AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::boolean[], $9::bigint[], $10::text[], $11::bytea[], $12::text[], $13::boolean[])
			WITH ORDINALITY AS x(` + eventColumns + `, n)),
	e AS (INSERT INTO events (` + eventColumns + `)
		SELECT ` + eventColumns + ` FROM x ORDER BY connection_id COLLATE "C", delivery_id COLLATE "C", n
		ON CONFLICT (connection_id, delivery_id) DO NOTHING RETURNING id),
	d AS (INSERT INTO deliveries (id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete,
			message, state, next_attempt_at, created_at, updated_at)
		SELECT y.id, y.event_id, y.connection_id, y.pipeline, y.target, y.mode, y.branch, y.files_incomplete,
			y.message, 'pending', y.due, y.due, y.due
		FROM unnest($14::text[], $15::bigint[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[],
			$21::text[], $22::text[], $23::boolean[], $24::text[])
			AS y(owner, due, id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete, message)
		WHERE y.owner COLLATE "C" IN (SELECT id FROM e))
	SELECT id FROM e`

// recordEventsArgs returns the arguments of recordEventsSQL for events.
func recordEventsArgs(events []store.Event) []any {
	var (
		ids, conns, providers, deliveryIDs, kinds, rawKinds, repos, headers, normalized []string
		held, routed                                                                    []bool
		received                                                                        []int64
		bodies                                                                          [][]byte
		// Deliveries: d-prefixed.
		dOwners, dIDs, dEvents, dConns, dPipelines, dTargets, dModes, dBranches, dMessages []string
		dDue                                                                               []int64
		dIncomplete                                                                        []bool
	)
	for _, e := range events {
		ids, conns, providers = append(ids, e.ID), append(conns, e.ConnectionID), append(providers, e.Provider)
		deliveryIDs, kinds, rawKinds = append(deliveryIDs, e.DeliveryID), append(kinds, e.Kind), append(rawKinds, e.RawKind)
		repos, held, received = append(repos, e.Repository), append(held, e.Held), append(received, e.ReceivedAt.UnixNano())
		headers, bodies = append(headers, string(e.Headers)), append(bodies, nonNil(e.Body))
		normalized, routed = append(normalized, string(e.Normalized)), append(routed, e.Routed)
		for _, d := range e.Deliveries {
			dOwners, dDue = append(dOwners, e.ID), append(dDue, e.ReceivedAt.UnixNano())
			dIDs, dEvents, dConns = append(dIDs, d.ID), append(dEvents, d.EventID), append(dConns, d.ConnectionID)
			dPipelines, dTargets, dModes = append(dPipelines, d.Pipeline), append(dTargets, d.Target), append(dModes, d.Mode)
			dBranches, dIncomplete = append(dBranches, d.Branch), append(dIncomplete, d.FilesIncomplete)
			dMessages = append(dMessages, string(d.Message))
		}
	}
	return []any{ids, conns, providers, deliveryIDs, kinds, rawKinds, repos, held, received, headers, bodies, normalized, routed,
		dOwners, dDue, dIDs, dEvents, dConns, dPipelines, dTargets, dModes, dBranches, dIncomplete, dMessages}
}

// Batches close when the queue is empty or at maxBatch events or past
// maxBatchBytes of bodies, headers and messages: a larger batch amortises
// the commit further but holds every caller in it for the whole statement,
// and PostgreSQL caps one message at 1 GiB (bodies go up to 25 MiB).
const (
	maxBatch      = 256
	maxBatchBytes = 16 << 20
)

// eventWriters is the number of goroutines committing batches. With two,
// one batch collects and is sent while the other waits for its commit.
const eventWriters = 2

// batchTimeout bounds one batch statement: callers cannot leave once
// queued, so a database that stops answering must not hold them for ever.
const batchTimeout = 30 * time.Second

// eventWrite is one RecordEvent call waiting for its batch to commit.
type eventWrite struct {
	ev   store.Event
	done chan eventResult
}

type eventResult struct {
	duplicate bool
	err       error
}

// ErrClosed answers RecordEvent once Close has begun.
var ErrClosed = errors.New("store closed")

// RecordEvent durably stores e and its deliveries; it returns once they
// are committed. duplicate reports that the connection already has an
// event with e's delivery id; nothing is written then.
//
// Concurrent calls share statements and commits (group commit, as in
// SQLite's store): each webhook waiting for its own commit capped ingest
// far below what the daemon's CPU allows. The unique (connection_id,
// delivery_id) makes a redelivery recorded concurrently by another replica
// wait for the first insert and then count as a duplicate.
func (s *Store) RecordEvent(ctx context.Context, e store.Event) (duplicate bool, err error) {
	// select picks at random among ready cases, so an idle writer would
	// otherwise take the event of a caller that has already given up.
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("record event: %w", err)
	}
	w := &eventWrite{ev: e, done: make(chan eventResult, 1)}
	select {
	case s.events <- w:
	case <-s.closing:
		return false, fmt.Errorf("record event: %w", ErrClosed)
	case <-ctx.Done():
		return false, fmt.Errorf("record event: %w", ctx.Err())
	}
	// Once queued, the write happens whatever the caller does; waiting for
	// the result keeps the caller's answer truthful.
	r := <-w.done
	if r.err != nil {
		return false, fmt.Errorf("record event %s: %w", e.DeliveryID, r.err)
	}
	return r.duplicate, nil
}

// writeEvents is one of the goroutines that commit event batches. It
// returns when closing is closed and the queue is drained.
func (s *Store) writeEvents() {
	for {
		select {
		case w := <-s.events:
			s.commitBatch(s.collect(w))
		case <-s.closing:
			s.drainEvents()
			return
		}
	}
}

// collect takes whatever else is already queued, within the batch bounds.
func (s *Store) collect(first *eventWrite) []*eventWrite {
	batch, size := []*eventWrite{first}, eventSize(first.ev)
	for len(batch) < maxBatch && size < maxBatchBytes {
		select {
		case w := <-s.events:
			batch, size = append(batch, w), size+eventSize(w.ev)
		default:
			return batch
		}
	}
	return batch
}

func eventSize(e store.Event) int {
	n := len(e.Headers) + len(e.Body) + len(e.Normalized)
	for _, d := range e.Deliveries {
		n += len(d.Message)
	}
	return n
}

// drainEvents commits what callers queued while Close was starting.
func (s *Store) drainEvents() {
	for {
		select {
		case w := <-s.events:
			s.commitBatch(s.collect(w))
		default:
			return
		}
	}
}

// errRepeatedID sends a batch in which two events share an id to the
// one-by-one path: the inserted ids would not say which of them is new.
var errRepeatedID = errors.New("event id repeated in batch")

// commitBatch writes a batch in one statement and answers its callers. If
// the database refuses the statement, each event is written alone so that
// one bad row fails only its own caller. A failure of the connection or a
// timeout is no one event's fault: everyone gets it.
func (s *Store) commitBatch(batch []*eventWrite) {
	dups, err := s.recordEvents(batch)
	var pe *pgconn.PgError
	if err != nil && len(batch) > 1 && (errors.As(err, &pe) || errors.Is(err, errRepeatedID)) {
		for i := range batch {
			s.commitBatch(batch[i : i+1])
		}
		return
	}
	for i, w := range batch {
		r := eventResult{err: err}
		if err == nil {
			r.duplicate = dups[i]
		}
		w.done <- r
	}
}

// recordEvents runs recordEventsSQL for batch and returns which events
// were duplicates.
func (s *Store) recordEvents(batch []*eventWrite) ([]bool, error) {
	events := make([]store.Event, len(batch))
	index := make(map[string]int, len(batch))
	for i, w := range batch {
		if _, ok := index[w.ev.ID]; ok {
			return nil, errRepeatedID
		}
		events[i], index[w.ev.ID] = w.ev, i
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	inserted, err := queryAll(ctx, s.pool, func(row scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, recordEventsSQL, recordEventsArgs(events)...)
	if err != nil {
		return nil, err
	}
	dups := make([]bool, len(batch))
	for i := range dups {
		dups[i] = true
	}
	for _, id := range inserted {
		dups[index[id]] = false
	}
	return dups, nil
}

// nonNil makes a nil body an empty one: the column is NOT NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// GetEvent returns one event with its body.
func (s *Store) GetEvent(ctx context.Context, id string) (store.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, "SELECT "+eventColumns+" FROM events WHERE id = $1", id))
	if err != nil {
		return store.Event{}, fmt.Errorf("event %s: %w", id, notFound(err))
	}
	return e, nil
}

func scanEvent(row scanner) (store.Event, error) {
	var (
		e                   store.Event
		received            int64
		headers, normalized string
	)
	err := row.Scan(&e.ID, &e.ConnectionID, &e.Provider, &e.DeliveryID, &e.Kind, &e.RawKind, &e.Repository,
		&e.Held, &received, &headers, &e.Body, &normalized, &e.Routed)
	if err != nil {
		return store.Event{}, err
	}
	e.ReceivedAt = fromNanos(received)
	e.Headers, e.Normalized = []byte(headers), []byte(normalized)
	return e, nil
}
