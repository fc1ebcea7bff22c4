package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/store"
)

const eventColumns = "id, connection_id, provider, delivery_id, kind, raw_kind, repository, held, received_at, headers, body, normalized, routed"

// insertDeliveriesSQL ends a statement whose CTE e holds the row of the
// event being recorded or routed, or none: it inserts one pending
// delivery per element of the arrays $1..$9 (see deliveryArgs), due at $10,
// only if e has a row.
const insertDeliveriesSQL = `INSERT INTO deliveries (id, event_id, connection_id, pipeline, target, mode, branch, files_incomplete,
		message, state, next_attempt_at, created_at, updated_at)
	SELECT x.*, 'pending', $10::bigint, $10::bigint, $10::bigint FROM e CROSS JOIN
		unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::text[]) AS x`

// recordEventSQL records an event ($11..$23) and its deliveries in one
// statement, hence one transaction: the outbox. A duplicate inserts
// nothing, deliveries included, and counts 0.
const recordEventSQL = "WITH e AS (INSERT INTO events (" + eventColumns + `)
		VALUES ($11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
		ON CONFLICT (connection_id, delivery_id) DO NOTHING RETURNING id),
	d AS (` + insertDeliveriesSQL + `)
	SELECT COUNT(*) FROM e`

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

// RecordEvent durably stores e and its deliveries; it returns once they
// are committed. duplicate reports that the connection already has an
// event with e's delivery id; nothing is written then.
//
// Each call is one statement in its own transaction. SQLite's store queues
// events to a single writer that commits them in groups because SQLite
// has one writer; PostgreSQL takes concurrent writers, and concurrent
// commits already share WAL flushes, so a queue would only add latency.
// The unique (connection_id, delivery_id) makes a concurrent redelivery
// wait for the first insert and then count as a duplicate.
func (s *Store) RecordEvent(ctx context.Context, e store.Event) (duplicate bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("record event: %w", err)
	}
	args := append(deliveryArgs(e.Deliveries, e.ReceivedAt.UnixNano()),
		e.ID, e.ConnectionID, e.Provider, e.DeliveryID, e.Kind, e.RawKind, e.Repository,
		e.Held, e.ReceivedAt.UnixNano(), string(e.Headers), nonNil(e.Body), string(e.Normalized), e.Routed)
	var inserted int
	if err := s.pool.QueryRow(ctx, recordEventSQL, args...).Scan(&inserted); err != nil {
		return false, fmt.Errorf("record event %s: %w", e.DeliveryID, err)
	}
	return inserted == 0, nil
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

// ListEvents returns events in id (arrival) order, after p.After, without
// their bodies: a listing of many 25 MiB deliveries must stay cheap. Use
// GetEvent for the body.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error) {
	var args params
	where := []string{"id > " + args.add(p.After)}
	for _, c := range []struct {
		cond string
		arg  any
		set  bool
	}{
		{"connection_id = ", f.ConnectionID, f.ConnectionID != ""},
		{"repository = ", f.Repository, f.Repository != ""},
		{"kind = ", f.Kind, f.Kind != ""},
		{"received_at >= ", f.Since.UnixNano(), !f.Since.IsZero()},
		{"received_at < ", f.Until.UnixNano(), !f.Until.IsZero()},
	} {
		if c.set {
			where = append(where, c.cond+args.add(c.arg))
		}
	}
	query := "SELECT " + strings.Replace(eventColumns, "body", "''::bytea AS body", 1) + " FROM events WHERE " + strings.Join(where, " AND ")
	events, err := queryAll(ctx, s.pool, scanEvent, args.page(query, "id", p), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
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
