-- Indexes for the documented listing filters (store/sqlite/listings.go),
-- each ending in id so that a page is a range read in either direction.
-- events_connection (0002) serves the connection filter; time windows are
-- read as id ranges of these (ids are UUID v7 of receipt).
CREATE INDEX events_repository ON events (repository, id);
CREATE INDEX events_kind ON events (kind, id);

-- Events whose id is more than store.EventIDSkew (1000 ms) from their
-- received_at: a time window's id range would miss them, so listings read
-- them here. Normally none; the predicate is listings.go's skewedEvents,
-- word for word.
CREATE INDEX events_skewed ON events (id) WHERE substr(id, 1, 13) NOT BETWEEN printf('%08x-%04x', (received_at / 1000000 - 1000) >> 16, (received_at / 1000000 - 1000) & 65535) AND printf('%08x-%04x', (received_at / 1000000 + 1000) >> 16, (received_at / 1000000 + 1000) & 65535);
