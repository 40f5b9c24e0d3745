-- The Query Service: saved query templates, query runs, column statistics, dataset samples.
CREATE TABLE query_templates (
    name        TEXT PRIMARY KEY,
    sql         TEXT NOT NULL,
    parameters  TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE query_runs (
    id            TEXT PRIMARY KEY,
    template      TEXT,
    sql           TEXT NOT NULL,
    params_json   TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL,
    submitted_at  TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    elapsed_ms    INTEGER,
    rows          INTEGER,
    result_path   TEXT,
    error_code    TEXT,
    error_message TEXT,
    pid           INTEGER
);
CREATE INDEX query_runs_submitted ON query_runs(submitted_at);

CREATE TABLE table_statistics (
    id           TEXT PRIMARY KEY,
    alias        TEXT UNIQUE,
    dataset_id   TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    table_name   TEXT NOT NULL,
    columns      TEXT NOT NULL,
    filter       TEXT,
    snapshot     INTEGER,
    computed_at  TEXT NOT NULL,
    result_json  TEXT NOT NULL
);

CREATE TABLE dataset_samples (
    dataset_id  TEXT PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
    parent_id   TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    rate        REAL NOT NULL,
    seed        INTEGER NOT NULL,
    filter      TEXT,
    rows        INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX dataset_samples_parent ON dataset_samples(parent_id);
