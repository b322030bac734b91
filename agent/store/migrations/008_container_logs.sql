-- The last lines of containers Berth removed (a new version that failed
-- its gate, an old version a deploy replaced), shared-secret values
-- redacted: the output people need most is that of a container that is
-- gone. Each workload keeps its newest few.
CREATE TABLE container_logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workload_id TEXT NOT NULL,
    container   TEXT NOT NULL,
    commit_sha  TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    captured_at INTEGER NOT NULL,
    lines       TEXT NOT NULL
);
CREATE INDEX container_logs_workload ON container_logs (workload_id, id);
