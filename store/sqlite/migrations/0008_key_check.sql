-- The key check value (issue 9): a constant sealed under the master key
-- when the store is first opened with one. A later start that cannot open
-- it runs with the wrong key file and refuses to start. One row at most.
CREATE TABLE key_check (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    sealed     BLOB    NOT NULL,
    created_at BIGINT  NOT NULL
);
