-- Recovery of missed webhooks (relay/recovery): how far each hook's
-- delivery log was read, which events were asked for again, and the last
-- head polling saw of each watched ref.
CREATE TABLE recovery_hooks (
    hook_key       TEXT    PRIMARY KEY,
    checked_until  BIGINT  NOT NULL,
    unrecoverable  INTEGER NOT NULL DEFAULT 0,
    reason         TEXT    NOT NULL DEFAULT '',
    updated_at     BIGINT  NOT NULL
);

CREATE TABLE recovery_redeliveries (
    hook_key  TEXT    NOT NULL,
    guid      TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    at        BIGINT  NOT NULL,
    PRIMARY KEY (hook_key, guid)
);
-- events list --recovered finds redelivered events by their delivery id.
CREATE INDEX recovery_redeliveries_guid ON recovery_redeliveries (guid);

CREATE TABLE recovery_heads (
    connection_id  TEXT    NOT NULL,
    repository     TEXT    NOT NULL,
    ref            TEXT    NOT NULL,
    sha            TEXT    NOT NULL,
    checked_at     BIGINT  NOT NULL,
    PRIMARY KEY (connection_id, repository, ref)
);
