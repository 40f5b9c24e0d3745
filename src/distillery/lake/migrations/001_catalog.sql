-- The catalog: datasets, batches and their row-level diagnostics, views.
CREATE TABLE datasets (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    table_name      TEXT NOT NULL UNIQUE,
    schema_json     TEXT NOT NULL,
    profile_enabled INTEGER NOT NULL DEFAULT 0,
    tags_json       TEXT NOT NULL DEFAULT '{}',
    labels_json     TEXT NOT NULL DEFAULT '[]',
    description     TEXT NOT NULL DEFAULT '',
    version         INTEGER NOT NULL DEFAULT -1,
    created_at      TEXT NOT NULL
);

CREATE TABLE batches (
    id              TEXT PRIMARY KEY,
    dataset_id      TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    state           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    completed_at    TEXT,
    input_records   INTEGER NOT NULL DEFAULT 0,
    output_records  INTEGER NOT NULL DEFAULT 0,
    failed_records  INTEGER NOT NULL DEFAULT 0,
    input_bytes     INTEGER NOT NULL DEFAULT 0,
    input_files     INTEGER NOT NULL DEFAULT 0,
    error_threshold REAL NOT NULL,
    snapshot        INTEGER,
    files_json      TEXT NOT NULL DEFAULT '[]',
    replaces        TEXT,
    message         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX batches_dataset ON batches(dataset_id, created_at);

CREATE TABLE batch_errors (
    batch_id  TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
    code      TEXT NOT NULL,
    source    TEXT NOT NULL DEFAULT '',
    row       INTEGER,
    field     TEXT NOT NULL DEFAULT '',
    message   TEXT NOT NULL,
    record    TEXT
);
CREATE INDEX batch_errors_batch ON batch_errors(batch_id);

CREATE TABLE views (
    name       TEXT PRIMARY KEY,
    sql        TEXT NOT NULL,
    created_at TEXT NOT NULL
);
