-- Recovery of missed webhooks (relay/recovery): how far each hook's
-- delivery log was read, which events were asked for again, and the last
-- head polling saw of each watched ref.
CREATE TABLE recovery_hooks (
    hook_key       TEXT COLLATE "C" PRIMARY KEY,
    checked_until  BIGINT  NOT NULL,
    unrecoverable  BOOLEAN NOT NULL DEFAULT FALSE,
    reason         TEXT    NOT NULL DEFAULT '',
    updated_at     BIGINT  NOT NULL
);

CREATE TABLE recovery_redeliveries (
    hook_key  TEXT COLLATE "C" NOT NULL,
    guid      TEXT COLLATE "C" NOT NULL,
    count     INTEGER NOT NULL,
    at        BIGINT  NOT NULL,
    PRIMARY KEY (hook_key, guid)
);
CREATE INDEX recovery_redeliveries_guid ON recovery_redeliveries (guid);

CREATE TABLE recovery_heads (
    connection_id  TEXT COLLATE "C" NOT NULL,
    repository     TEXT COLLATE "C" NOT NULL,
    ref            TEXT COLLATE "C" NOT NULL,
    sha            TEXT    NOT NULL,
    checked_at     BIGINT  NOT NULL,
    PRIMARY KEY (connection_id, repository, ref)
);
