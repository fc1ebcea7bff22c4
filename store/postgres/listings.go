package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/forgelink/forgelink/store"
)

// skewedEvents is the predicate of the partial index events_skewed
// (migration 0009), word for word: the planner uses a partial index only
// for a query whose conditions imply its predicate. An event is skewed
// when its id's millisecond is more than store.EventIDSkew (1000 ms) from
// its received_at's.
const skewedEvents = "substr(id, 1, 13) NOT BETWEEN" +
	" lpad(to_hex((received_at / 1000000 - 1000) >> 16), 8, '0') || '-' || lpad(to_hex((received_at / 1000000 - 1000) & 65535), 4, '0')" +
	" AND lpad(to_hex((received_at / 1000000 + 1000) >> 16), 8, '0') || '-' || lpad(to_hex((received_at / 1000000 + 1000) & 65535), 4, '0')"

// ListEvents returns events in id (arrival) order, past p.After in p's
// direction, without their bodies: a listing of many 25 MiB deliveries must
// stay cheap. Use GetEvent for the body.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error) {
	var q listing
	q.where(f.ConnectionID != "", "connection_id = ", f.ConnectionID)
	q.where(f.Repository != "", "repository = ", f.Repository)
	q.where(f.Kind != "", "kind = ", f.Kind)
	q.where(!f.Since.IsZero(), "received_at >= ", f.Since.UnixNano())
	q.where(!f.Until.IsZero(), "received_at < ", f.Until.UnixNano())
	columns := strings.Replace(eventColumns, "body", "''::bytea AS body", 1)
	var events []store.Event
	for _, part := range windowed(q, f) {
		query, args := part.query(columns, "events", p)
		got, err := queryAll(ctx, s.pool, scanEvent, query, args...)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = store.MergePages(events, got, func(e store.Event) string { return e.ID }, p)
	}
	return events, nil
}

// windowed splits an event listing with a time window in two: the
// window's id range, which the index of the other filters (or the primary
// key) reads from the window's edge, and the skewed events, from their
// own index (store.EventIDSkew). Both keep the time conditions.
func windowed(q listing, f store.EventFilter) []listing {
	if f.Since.IsZero() && f.Until.IsZero() {
		return []listing{q}
	}
	lo, hi := store.IDWindow(f.Since, f.Until)
	inRange, skewed := q.clone(), q.clone()
	inRange.where(lo != "", "id >= ", lo)
	inRange.where(hi != "", "id < ", hi)
	skewed.conds = append(skewed.conds, skewedEvents)
	return []listing{inRange, skewed}
}

// ListDeliveries returns deliveries in id order, past p.After in p's
// direction.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error) {
	var q listing
	q.where(f.Pipeline != "", "pipeline = ", f.Pipeline)
	q.where(f.State != "", "state = ", f.State)
	q.where(f.EventID != "", "event_id = ", f.EventID)
	query, args := q.query(deliveryColumns, "deliveries", p)
	ds, err := queryAll(ctx, s.pool, scanDelivery, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

// listing builds a keyset-paged query: the filters (each a condition
// ending where its parameter goes), then the page's id bound, order and
// limit.
type listing struct {
	conds []string
	args  params
}

func (q *listing) where(set bool, cond string, arg any) {
	if set {
		q.conds = append(q.conds, cond+q.args.add(arg))
	}
}

func (q listing) clone() listing {
	return listing{conds: append([]string(nil), q.conds...), args: append(params(nil), q.args...)}
}

// query is the listing's SELECT and its arguments for page p.
func (q listing) query(columns, table string, p store.Page) (string, []any) {
	q = q.clone()
	order := "id"
	if p.Descending {
		// "" starts at the newest; any other After is an upper bound.
		q.where(p.After != "", "id < ", p.After)
		order = "id DESC"
	} else {
		q.where(p.After != "", "id > ", p.After)
	}
	query := "SELECT " + columns + " FROM " + table
	if len(q.conds) > 0 {
		query += " WHERE " + strings.Join(q.conds, " AND ")
	}
	return q.args.page(query, order, store.Page{Limit: p.Limit}), q.args
}
