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
//
// A time window is read in two parts: its id range (ids are UUID v7 of
// receipt), which an index of the other filters (or the primary key)
// reads from the window's edge, and the skewed events from their own
// index (store.EventIDSkew). Both keep the time conditions, so the listing
// is exact.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]store.Event, error) {
	columns := strings.Replace(eventColumns, "body", "''::bytea AS body", 1)
	var events []store.Event
	for _, part := range eventParts(f) {
		query, args := part.query(columns, p)
		got, err := queryAll(ctx, s.pool, scanEvent, query, args...)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = store.MergePages(events, got, func(e store.Event) string { return e.ID }, p)
	}
	return events, nil
}

// eventParts are the queries a listing of f reads: one, or two for a time
// window. PostgreSQL's statistics choose the index.
func eventParts(f store.EventFilter) []listing {
	q := listing{table: "events"}
	q.where(f.ConnectionID != "", "connection_id = ", f.ConnectionID)
	q.where(f.Repository != "", "repository = ", f.Repository)
	q.where(f.Kind != "", "kind = ", f.Kind)
	q.where(!f.Since.IsZero(), "received_at >= ", f.Since.UnixNano())
	q.where(!f.Until.IsZero(), "received_at < ", f.Until.UnixNano())
	// Events recovery brought back (recovery.go); where appends the value.
	q.where(f.Recovered, "(starts_with(delivery_id, '"+store.SynthesizedDeliveryPrefix+
		"') OR delivery_id IN (SELECT guid FROM recovery_redeliveries)) = ", true)
	if f.Since.IsZero() && f.Until.IsZero() {
		return []listing{q}
	}
	lo, hi := store.IDWindow(f.Since, f.Until)
	inRange, skewed := q.clone(), q.clone()
	inRange.where(lo != "", "id >= ", lo)
	inRange.where(hi != "", "id < ", hi)
	skewed.first = skewedEvents
	return []listing{inRange, skewed}
}

// ListDeliveries returns deliveries in id order, past p.After in p's
// direction.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.Page) ([]store.Delivery, error) {
	query, args := deliveryQuery(f).query(deliveryColumns, p)
	ds, err := queryAll(ctx, s.pool, scanDelivery, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

func deliveryQuery(f store.DeliveryFilter) listing {
	q := listing{table: "deliveries"}
	q.where(f.Pipeline != "", "pipeline = ", f.Pipeline)
	q.where(f.State != "", "state = ", f.State)
	q.where(f.EventID != "", "event_id = ", f.EventID)
	return q
}

// listing builds a keyset-paged query: the table, the conditions (each
// ending where its parameter goes), then the page's id bound, order and
// limit.
type listing struct {
	table string
	// first is a condition applied on its own before the others, in a
	// subquery the planner may not merge (OFFSET 0): the skewed events are
	// taken from their partial index, however common the other filters'
	// values are, rather than the other filters' rows searched for them.
	first string
	conds []string
	args  params
}

func (q *listing) where(set bool, cond string, arg any) {
	if set {
		q.conds = append(q.conds, cond+q.args.add(arg))
	}
}

func (q listing) clone() listing {
	q.conds, q.args = append([]string(nil), q.conds...), append(params(nil), q.args...)
	return q
}

// query is the listing's SELECT and its arguments for page p.
func (q listing) query(columns string, p store.Page) (string, []any) {
	q = q.clone()
	order := "id"
	if p.Descending {
		// "" starts at the newest; any other After is an upper bound.
		q.where(p.After != "", "id < ", p.After)
		order = "id DESC"
	} else {
		q.where(p.After != "", "id > ", p.After)
	}
	from := q.table
	if q.first != "" {
		from = "(SELECT * FROM " + q.table + " WHERE " + q.first + " ORDER BY " + order + " OFFSET 0) AS " + q.table
	}
	query := "SELECT " + columns + " FROM " + from
	if len(q.conds) > 0 {
		query += " WHERE " + strings.Join(q.conds, " AND ")
	}
	return q.args.page(query, order, store.Page{Limit: p.Limit}), q.args
}
