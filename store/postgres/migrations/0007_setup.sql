-- Provider set-up (issue 4).

-- OAuth credentials expire: the refresher finds the ones due by expires_at
-- (NULL for credentials that do not expire).
ALTER TABLE connection_credentials ADD COLUMN expires_at BIGINT;

CREATE INDEX connection_credentials_expiry ON connection_credentials (expires_at) WHERE expires_at IS NOT NULL;

-- Apps forgelink authenticates to providers with: the GitHub App a GHES
-- host (or github.com) registered through the manifest flow, the OAuth
-- application of a GitLab self-managed host. sealed holds the secrets
-- (private key, webhook secret, client secret), sealed by the keyring with
-- id as associated data. A host's app has the host's id.
CREATE TABLE provider_apps (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL,
    host_id    TEXT   NOT NULL DEFAULT '',
    app_id     BIGINT NOT NULL DEFAULT 0,
    slug       TEXT   NOT NULL DEFAULT '',
    name       TEXT   NOT NULL DEFAULT '',
    client_id  TEXT   NOT NULL DEFAULT '',
    owner      TEXT   NOT NULL DEFAULT '',
    html_url   TEXT   NOT NULL DEFAULT '',
    sealed     BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Single-use nonces of set-up states: a callback consumes its state's
-- nonce, so a replayed callback finds none.
CREATE TABLE setup_nonces (
    id         TEXT   NOT NULL PRIMARY KEY,
    purpose    TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX setup_nonces_expiry ON setup_nonces (expires_at);
