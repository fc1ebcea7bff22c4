package sqlite

import (
	"context"
	"strings"

	"github.com/forgelink/forgelink/store"
)

// ListingPlans returns SQLite's plan of each query ListEvents (events set)
// or ListDeliveries runs for page p, one line per step.
func (s *Store) ListingPlans(ctx context.Context, events *store.EventFilter, deliveries store.DeliveryFilter, p store.Page) ([]string, error) {
	var parts []listing
	var err error
	columns := deliveryColumns
	if events != nil {
		parts, err = s.eventParts(ctx, *events)
		columns = eventColumns
	} else {
		var q listing
		q, err = s.deliveryQuery(ctx, deliveries)
		parts = []listing{q}
	}
	if err != nil {
		return nil, err
	}
	var plans []string
	for _, part := range parts {
		query, args := part.query(columns, p)
		steps, err := queryAll(ctx, s.r, func(row scanner) (string, error) {
			var id, parent, unused int
			var detail string
			return detail, row.Scan(&id, &parent, &unused, &detail)
		}, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			return nil, err
		}
		plans = append(plans, strings.Join(steps, "\n"))
	}
	return plans, nil
}
