-- Indexes for the documented listing filters (store/sqlite/listings.go),
-- each ending in id so that a page is a range read in either direction.
-- events_connection (0002) serves the connection filter; time windows are
-- read as id ranges of these (ids are UUID v7 of receipt).
-- events_kind also holds the other filters' columns: SQLite checks them in
-- the index before it reads the row, so a common kind combined with a less
-- common repository or connection is scanned in the index alone. Its
-- entries go to the end of a few kinds, a page or two per group commit;
-- the repository index's go to as many places as there are repositories,
-- so it stays narrow.
CREATE INDEX events_repository ON events (repository, id);
CREATE INDEX events_kind ON events (kind, id, repository, connection_id, received_at);

-- Events whose id is more than store.EventIDSkew (1000 ms) from their
-- received_at: a time window's id range would miss them, so listings read
-- them here. Normally none; the predicate is listings.go's skewedEvents,
-- word for word.
CREATE INDEX events_skewed ON events (id) WHERE substr(id, 1, 13) NOT BETWEEN printf('%08x-%04x', (received_at / 1000000 - 1000) >> 16, (received_at / 1000000 - 1000) & 65535) AND printf('%08x-%04x', (received_at / 1000000 + 1000) >> 16, (received_at / 1000000 + 1000) & 65535);

-- The state index holds the pipeline for the same reason (a common state
-- with a rare pipeline). Its prefix is 0004's, which the delivery queries
-- keep using; the pipeline never changes, so a state change still writes
-- one entry.
DROP INDEX deliveries_state;
CREATE INDEX deliveries_state ON deliveries (state, id, pipeline);

-- An event's deliveries in id order straight from the index (0004's had
-- the event alone: PostgreSQL then preferred walking the primary key in
-- id order to find an event's few deliveries, 0.8 s at a million).
DROP INDEX deliveries_event;
CREATE INDEX deliveries_event ON deliveries (event_id, id);
