-- The PostgreSQL twin of store/sqlite/migrations/0001_init.sql: same tables,
-- same numbering. Times are BIGINT unix nanoseconds, UTC, as in SQLite:
-- timestamptz keeps microseconds, and deliveries are due to the nanosecond.
-- Ids and keys that listings order by or page through are COLLATE "C", so
-- that their order is Go's byte order whatever the database's locale.

-- Deleted connections keep their row (deleted_at set) so that their IDs can
-- never be handed out again; only live rows hold on to a name.
CREATE TABLE connections (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL,
    provider_type TEXT   NOT NULL,
    region        TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    status_reason TEXT   NOT NULL DEFAULT '',
    host_id       TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);

CREATE UNIQUE INDEX connections_live_name ON connections (name) WHERE deleted_at IS NULL;

-- Serves DeleteHost's in-use check and the host filter of ListConnections.
CREATE INDEX connections_live_host ON connections (host_id) WHERE deleted_at IS NULL;

CREATE TABLE hosts (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name              TEXT   NOT NULL,
    provider_type     TEXT   NOT NULL,
    provider_endpoint TEXT   NOT NULL,
    region            TEXT   NOT NULL,
    status            TEXT   NOT NULL,
    status_message    TEXT   NOT NULL DEFAULT '',
    vpc_json          TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (region, name)
);

-- Tags of every resource kind; no foreign key because resource_id points at
-- connections or hosts depending on resource_kind.
CREATE TABLE tags (
    resource_kind TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (resource_kind, resource_id, key)
);
