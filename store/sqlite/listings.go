package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/store"
)

// skewedEvents is the predicate of the partial index events_skewed
// (migration 0009), word for word: SQLite uses a partial index only for a
// query that states its predicate. An event is skewed when its id's
// millisecond is more than store.EventIDSkew (1000 ms) from its
// received_at's.
const skewedEvents = "substr(id, 1, 13) NOT BETWEEN" +
	" printf('%08x-%04x', (received_at / 1000000 - 1000) >> 16, (received_at / 1000000 - 1000) & 65535)" +
	" AND printf('%08x-%04x', (received_at / 1000000 + 1000) >> 16, (received_at / 1000000 + 1000) & 65535)"

// recoveredEvents are the events recovery brought back (recovery.go).
const recoveredEvents = "(delivery_id LIKE ? OR delivery_id IN (SELECT guid FROM recovery_redeliveries))"

// ListEvents returns events in id (arrival) order, past p.After in p's
// direction, without their bodies: a listing of many 25 MiB deliveries must
// stay cheap. Use GetEvent for the body.
//
// A time window is read in two parts: its id range (ids are UUID v7 of
// receipt), which the chosen index reads from the window's edge, and the
// skewed events from their own index (store.EventIDSkew). Both keep the
// time conditions, so the listing is exact.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error) {
	parts, err := s.eventParts(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	columns := strings.Replace(eventColumns, "body", "X'' AS body", 1)
	var events []store.Event
	for _, part := range parts {
		query, args := part.query(columns, p)
		got, err := queryAll(ctx, s.r, scanEvent, query, args...)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = store.MergePages(events, got, func(e store.Event) string { return e.ID }, p)
	}
	return events, nil
}

// eventParts are the queries a listing of f reads: one, or two for a time
// window.
func (s *Store) eventParts(ctx context.Context, f store.EventFilter) ([]listing, error) {
	// In the order narrowest prefers when its counts tie: the kind index
	// holds the other filters' columns, and repository has more values
	// than connection.
	filters := present(
		equal{"events_kind", "kind", f.Kind},
		equal{"events_repository", "repository", f.Repository},
		equal{"events_connection", "connection_id", f.ConnectionID})
	window := listing{table: "events"}
	window.where(!f.Since.IsZero(), "received_at >= ?", f.Since.UnixNano())
	window.where(!f.Until.IsZero(), "received_at < ?", f.Until.UnixNano())
	inRange := listing{table: "events"}
	if len(window.conds) > 0 {
		lo, hi := store.IDWindow(f.Since, f.Until)
		inRange.where(lo != "", "id >= ?", lo)
		inRange.where(hi != "", "id < ?", hi)
	}
	var err error
	if inRange.index, err = s.narrowest(ctx, inRange, filters); err != nil {
		return nil, err
	}
	window.where(f.Recovered, recoveredEvents, store.SynthesizedDeliveryPrefix+"%")
	parts := []listing{inRange.and(window).and(equals(filters))}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		skewed := listing{table: "events", index: "events_skewed"}
		skewed.where(true, skewedEvents)
		parts = append(parts, skewed.and(window).and(equals(filters)))
	}
	return parts, nil
}

// ListDeliveries returns deliveries in id order, past p.After in p's
// direction.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error) {
	q, err := s.deliveryQuery(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	query, args := q.query(deliveryColumns, p)
	ds, err := queryAll(ctx, s.r, scanDelivery, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

func (s *Store) deliveryQuery(ctx context.Context, f store.DeliveryFilter) (listing, error) {
	// In the order narrowest prefers when its counts tie: the state index
	// holds the pipeline, so a common state is scanned without reading rows.
	filters := present(
		equal{"deliveries_event", "event_id", f.EventID},
		equal{"deliveries_state", "state", f.State},
		equal{"deliveries_pipeline", "pipeline", f.Pipeline})
	q := listing{table: "deliveries"}
	var err error
	q.index, err = s.narrowest(ctx, q, filters)
	return q.and(equals(filters)), err
}

// equal is a listing's equality filter and the index that serves it (the
// column, then id).
type equal struct {
	index, column, value string
}

// present keeps the filters that are set.
func present(fs ...equal) []equal {
	var out []equal
	for _, f := range fs {
		if f.value != "" {
			out = append(out, f)
		}
	}
	return out
}

func equals(fs []equal) listing {
	var q listing
	for _, f := range fs {
		q.where(true, f.column+" = ?", f.value)
	}
	return q
}

// probeLimit bounds the count that chooses between filters' indexes.
const probeLimit = 2000

// narrowest is the index to read q with filters by: the one filter's, or,
// of several, the index of the filter that matches fewest records within
// q's id range, counted up to probeLimit in the index alone (ties: the
// first). SQLite's planner, which has no statistics of the values, would
// pick one blindly, and a common value scanned for a rare one reads the
// whole table.
func (s *Store) narrowest(ctx context.Context, q listing, filters []equal) (string, error) {
	if len(filters) == 0 {
		return "", nil // the primary key, in id order
	}
	best, fewest := filters[0].index, probeLimit+1
	for i, f := range filters {
		if len(filters) == 1 {
			break
		}
		probe := listing{table: q.table, index: f.index}
		probe.where(true, f.column+" = ?", f.value)
		probe = probe.and(q)
		n, err := count(ctx, s.r, "SELECT count(*) FROM (SELECT 1 FROM "+probe.from()+" WHERE "+
			strings.Join(probe.conds, " AND ")+fmt.Sprintf(" LIMIT %d)", probeLimit), probe.args...)
		if err != nil {
			return "", fmt.Errorf("probe %s: %w", f.index, err)
		}
		if n < fewest {
			best, fewest = filters[i].index, n
		}
	}
	return best, nil
}

// listing builds a keyset-paged query: the table (and the index to read
// it by, "" for the planner's choice), the conditions and their
// arguments, then the page's id bound, order and limit.
type listing struct {
	table, index string
	conds        []string
	args         []any
}

// where adds cond with its arguments when set.
func (q *listing) where(set bool, cond string, args ...any) {
	if set {
		q.conds, q.args = append(q.conds, cond), append(q.args, args...)
	}
}

// and is q with other's conditions too.
func (q listing) and(other listing) listing {
	return listing{table: q.table, index: q.index,
		conds: append(append([]string(nil), q.conds...), other.conds...),
		args:  append(append([]any(nil), q.args...), other.args...)}
}

func (q listing) from() string {
	if q.index == "" {
		return q.table
	}
	// INDEXED BY also makes a query fail, rather than scan, should the
	// index ever be missing.
	return q.table + " INDEXED BY " + q.index
}

// query is the listing's SELECT and its arguments for page p.
func (q listing) query(columns string, p store.Page) (string, []any) {
	q = q.and(listing{})
	order := "id"
	if p.Descending {
		// "" starts at the newest; any other After is an upper bound.
		q.where(p.After != "", "id < ?", p.After)
		order = "id DESC"
	} else {
		q.where(p.After != "", "id > ?", p.After)
	}
	query := "SELECT " + columns + " FROM " + q.from()
	if len(q.conds) > 0 {
		query += " WHERE " + strings.Join(q.conds, " AND ")
	}
	query += " ORDER BY " + order
	if p.Limit > 0 {
		query += " LIMIT ?"
		q.args = append(q.args, p.Limit)
	}
	return query, q.args
}
