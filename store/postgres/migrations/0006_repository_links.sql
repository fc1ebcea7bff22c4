-- Repository links and the webhooks forgelink registered (issue 4).

-- repository_key is lower(owner_id || '/' || repository_name): providers
-- compare repository paths case-insensitively, so one connection links a
-- repository once however it is spelled.
CREATE TABLE repository_links (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    connection_id      TEXT   NOT NULL,
    owner_id           TEXT   NOT NULL,
    repository_name    TEXT   NOT NULL,
    repository_key     TEXT COLLATE "C" NOT NULL,
    encryption_key_arn TEXT   NOT NULL DEFAULT '',
    region             TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (connection_id, repository_key)
);

-- One row per (connection, repository) whose provider-side webhook
-- forgelink keeps. The lease (lease_owner, lease_until) is claimed in one
-- statement so that two daemons sharing the database never ensure the same
-- hook at once. secret_created_at names the webhook_secrets row the hook was
-- given (0: none known); last_error never holds a secret.
CREATE TABLE registered_hooks (
    connection_id     TEXT    NOT NULL,
    repository        TEXT COLLATE "C" NOT NULL,
    hook_id           TEXT    NOT NULL DEFAULT '',
    url               TEXT    NOT NULL DEFAULT '',
    secret_created_at BIGINT  NOT NULL DEFAULT 0,
    state             TEXT    NOT NULL,
    last_error        TEXT    NOT NULL DEFAULT '',
    failures          INTEGER NOT NULL DEFAULT 0,
    checked_at        BIGINT  NOT NULL DEFAULT 0,
    lease_owner       TEXT    NOT NULL DEFAULT '',
    lease_until       BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (connection_id, repository)
);
