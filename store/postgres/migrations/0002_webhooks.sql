-- Webhook secrets, sealed (AES-256-GCM) by the keyring: the database alone
-- reveals none. The current secret has expires_at NULL; a rotation gives the
-- previous one an expiry (the overlap) and adds a new current one.
CREATE TABLE webhook_secrets (
    connection_id TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    sealed        BYTEA  NOT NULL,
    expires_at    BIGINT,
    PRIMARY KEY (connection_id, created_at)
);

-- Recorded webhook deliveries. (connection_id, delivery_id) is the
-- de-duplication key: a provider redelivery is not recorded twice.
CREATE TABLE events (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    connection_id TEXT    NOT NULL,
    provider      TEXT    NOT NULL,
    delivery_id   TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    raw_kind      TEXT    NOT NULL,
    repository    TEXT    NOT NULL,
    held          BOOLEAN NOT NULL,
    received_at   BIGINT  NOT NULL,
    headers       TEXT    NOT NULL,
    body          BYTEA   NOT NULL,
    normalized    TEXT    NOT NULL,
    UNIQUE (connection_id, delivery_id)
);

CREATE INDEX events_connection ON events (connection_id, id);
CREATE INDEX events_held ON events (connection_id) WHERE held;
