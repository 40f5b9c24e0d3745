-- Governance, audiences and activation: data-usage labels on fields, audience definitions,
-- evaluation jobs, destinations and activation runs. Memberships themselves live in the lake
-- (dataset `audience_memberships`), so SQL reads them like any other table.

-- Labels on a field path of a dataset (labels on a whole dataset stay in datasets.labels_json).
CREATE TABLE IF NOT EXISTS field_labels (
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    label      TEXT NOT NULL,
    origin     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (dataset_id, path, label)
);

CREATE TABLE IF NOT EXISTS audiences (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('rule', 'sql')),
    description     TEXT NOT NULL DEFAULT '',
    expression      TEXT NOT NULL,
    source          TEXT NOT NULL,
    identity        TEXT NOT NULL,
    namespace       TEXT NOT NULL,
    ttl_days        INTEGER,
    schedule        TEXT,
    next_run_at     TEXT,
    options_json    TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- One evaluation of one audience. `number` orders jobs and is what membership rows carry
-- (an integer column with statistics, so a read of one evaluation skips the others' files).
CREATE TABLE IF NOT EXISTS audience_jobs (
    number       INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    audience_id  TEXT NOT NULL,
    audience     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('NEW', 'QUEUED', 'PROCESSING', 'SUCCEEDED',
                                                'FAILED')),
    trigger      TEXT NOT NULL DEFAULT 'manual',
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    duration_s   REAL,
    as_of        TEXT,
    previous     INTEGER,
    qualified    INTEGER NOT NULL DEFAULT 0,
    realized     INTEGER NOT NULL DEFAULT 0,
    existing     INTEGER NOT NULL DEFAULT 0,
    exited       INTEGER NOT NULL DEFAULT 0,
    error        TEXT
);
CREATE INDEX IF NOT EXISTS audience_jobs_audience ON audience_jobs(audience_id, number);

CREATE TABLE IF NOT EXISTS destinations (
    name       TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    spec_json  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS activation_runs (
    id           TEXT PRIMARY KEY,
    destination  TEXT NOT NULL,
    audience_id  TEXT NOT NULL,
    audience     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'partial', 'failed',
                                                'refused')),
    dry_run      INTEGER NOT NULL DEFAULT 0,
    mode         TEXT NOT NULL DEFAULT '',
    job          INTEGER,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    duration_s   REAL,
    entered      INTEGER NOT NULL DEFAULT 0,
    exited       INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    excluded     INTEGER NOT NULL DEFAULT 0,
    sent         INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    details_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS activation_runs_pair ON activation_runs(destination, audience_id,
                                                                   started_at);
