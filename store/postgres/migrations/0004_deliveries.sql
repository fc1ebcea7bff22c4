-- Deliveries: the outbox. Rows are written in the transaction that records
-- their event (or that routes a released held event), so an accepted event
-- is never without its deliveries.
ALTER TABLE events ADD COLUMN routed BOOLEAN NOT NULL DEFAULT false;

CREATE INDEX events_unrouted ON events (id) WHERE NOT routed AND NOT held;

CREATE TABLE deliveries (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    event_id         TEXT    NOT NULL,
    connection_id    TEXT    NOT NULL,
    pipeline         TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    mode             TEXT    NOT NULL,
    branch           TEXT    NOT NULL,
    files_incomplete BOOLEAN NOT NULL,
    message          TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    lease_owner      TEXT    NOT NULL DEFAULT '',
    lease_until      BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

-- Claims page through each target's due deliveries by (time, id), then
-- check pipeline order. Unlike SQLite's, these indexes are not partial:
-- without fresh statistics PostgreSQL deems a partial index on state tiny,
-- and would then scan one whole (for a delivery's id, say) where the
-- primary key finds the row at once.
CREATE INDEX deliveries_due ON deliveries (target, state, next_attempt_at, id);
CREATE INDEX deliveries_leases ON deliveries (target, state, lease_until, id);
CREATE INDEX deliveries_queue ON deliveries (pipeline, target, state, id);
CREATE INDEX deliveries_groups ON deliveries (pipeline, target, branch, state, id);
CREATE INDEX deliveries_pipeline ON deliveries (pipeline, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_state ON deliveries (state, id);

CREATE TABLE delivery_attempts (
    delivery_id TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    started_at  BIGINT  NOT NULL,
    duration_ns BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    status_code INTEGER NOT NULL,
    exit_status INTEGER,
    error       TEXT    NOT NULL,
    output      TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
