-- Provider credentials that completed a connection: for now the access
-- token (or app password) given to `forgelink connections complete`.
-- Sealed by the keyring with the connection id as associated data, so a
-- value moved to another row does not open. One per connection: completing
-- again replaces it.
CREATE TABLE connection_credentials (
    connection_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind          TEXT   NOT NULL,
    sealed        BYTEA  NOT NULL,
    account       TEXT   NOT NULL DEFAULT '',
    updated_at    BIGINT NOT NULL
);
