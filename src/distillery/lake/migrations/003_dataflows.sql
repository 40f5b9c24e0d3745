-- Dataflows (saved exports and sources), their runs, the files a source has ingested, and the
-- leases that keep two processes from running the same dataflow at once.
CREATE TABLE IF NOT EXISTS dataflows (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('export', 'source')),
    spec_json   TEXT NOT NULL,
    schedule    TEXT,
    enabled     INTEGER NOT NULL DEFAULT 1,
    next_run_at TEXT,
    state_json  TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS dataflow_runs (
    id           TEXT PRIMARY KEY,
    dataflow     TEXT,
    kind         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('running', 'success', 'failed')),
    trigger      TEXT NOT NULL DEFAULT 'manual',
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    duration_s   REAL,
    rows         INTEGER NOT NULL DEFAULT 0,
    bytes        INTEGER NOT NULL DEFAULT 0,
    files        INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    details_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS dataflow_runs_flow ON dataflow_runs(dataflow, started_at);

CREATE TABLE IF NOT EXISTS dataflow_files (
    dataflow    TEXT NOT NULL,
    url         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    batch_id    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    state       TEXT NOT NULL,
    rows        INTEGER NOT NULL DEFAULT 0,
    message     TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (dataflow, url)
);

CREATE TABLE IF NOT EXISTS dataflow_leases (
    dataflow   TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL,
    owner      TEXT NOT NULL,
    expires_at REAL NOT NULL
);
