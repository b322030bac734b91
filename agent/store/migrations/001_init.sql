-- runtime_state: one row per workload, what Berth last applied and observed.
CREATE TABLE runtime_state (
    workload_id    TEXT PRIMARY KEY,
    container_id   TEXT NOT NULL DEFAULT '',
    container_name TEXT NOT NULL DEFAULT '',
    upstream       TEXT NOT NULL DEFAULT '',
    image          TEXT NOT NULL DEFAULT '',
    image_digest   TEXT NOT NULL DEFAULT '',
    applied_hash   TEXT NOT NULL DEFAULT '',
    commit_sha     TEXT NOT NULL DEFAULT '',
    strategy       TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT '',
    last_deploy    TEXT NOT NULL DEFAULT '',
    message        TEXT NOT NULL DEFAULT '',
    updated_at     INTEGER NOT NULL
);

CREATE TABLE event_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    workload_id TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('info', 'warn', 'error')),
    message     TEXT NOT NULL,
    metadata    TEXT NOT NULL DEFAULT '{}',
    commit_sha  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX event_log_workload_id ON event_log (workload_id, id);

-- meta: small agent-wide facts, such as the last commit a tick loaded.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
