-- Unified profiles and scoring: merge policies, how far each profile-enabled dataset has been
-- merged into the unified profiles, and the record of every scoring run.
CREATE TABLE IF NOT EXISTS merge_policies (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('timestampOrdered', 'dataSetPrecedence')),
    datasets_json TEXT NOT NULL DEFAULT '[]',
    is_default    INTEGER NOT NULL DEFAULT 0,
    description   TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);
-- At most one default policy.
CREATE UNIQUE INDEX IF NOT EXISTS merge_policies_default ON merge_policies(is_default)
    WHERE is_default = 1;
INSERT OR IGNORE INTO merge_policies (name, kind, datasets_json, is_default, description,
                                      created_at)
VALUES ('timestamp-ordered', 'timestampOrdered', '[]', 1,
        'The latest fragment wins, attribute by attribute.', strftime('%Y-%m-%dT%H:%M:%f+00:00'));

-- Key/value state of the unified profiles (watermarks per dataset, the policy last applied).
CREATE TABLE IF NOT EXISTS profile_state (
    key        TEXT PRIMARY KEY,
    value_json TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS score_runs (
    id            TEXT PRIMARY KEY,
    model_name    TEXT NOT NULL,
    model_version TEXT NOT NULL,
    as_of         TEXT NOT NULL,
    scored_at     TEXT NOT NULL,
    dataset_id    TEXT,
    batch_id      TEXT,
    rows          INTEGER NOT NULL DEFAULT 0,
    delivery      TEXT NOT NULL DEFAULT 'batch',
    details_json  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS score_runs_model ON score_runs(model_name, scored_at);
