-- GitHub App installations completing connections. App webhook deliveries
-- arrive at one URL per App and are attributed to connections through this
-- table, by (app_id, installation_id).
CREATE TABLE github_installations (
    connection_id   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    app_id          BIGINT NOT NULL,
    installation_id BIGINT NOT NULL,
    account         TEXT   NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL
);

CREATE INDEX github_installations_app ON github_installations (app_id, installation_id);
