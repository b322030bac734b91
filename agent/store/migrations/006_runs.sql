-- Runs of one-off tasks: a job's runs and before_deploy tasks. The output
-- is its last 4 KiB, shared-secret values redacted.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workload_id TEXT NOT NULL,
    task        TEXT NOT NULL,            -- job | before_deploy
    trigger     TEXT NOT NULL,            -- schedule | catch_up | operator | deploy
    commit_sha  TEXT NOT NULL DEFAULT '',
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    exit_code   INTEGER NOT NULL DEFAULT -1,
    timed_out   INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    output_tail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_workload ON runs (workload_id, id);
