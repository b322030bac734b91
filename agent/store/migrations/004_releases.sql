-- Releases: each successful deploy, so a workload can be rolled back and
-- the images of kept releases are not collected.
CREATE TABLE releases (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workload_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    commit_sha   TEXT NOT NULL,
    hash         TEXT NOT NULL,
    image        TEXT NOT NULL DEFAULT '',
    image_id     TEXT NOT NULL DEFAULT '',
    image_digest TEXT NOT NULL DEFAULT '',
    strategy     TEXT NOT NULL DEFAULT '',
    spec         TEXT NOT NULL,            -- the workload as deployed; no secret values
    created_at   INTEGER NOT NULL
);
CREATE INDEX releases_workload ON releases (workload_id, id);

-- What serves (release), the last failed desired state and its backoff,
-- and the operator's pin or suspension.
ALTER TABLE runtime_state ADD COLUMN image_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runtime_state ADD COLUMN release_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runtime_state ADD COLUMN failed_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE runtime_state ADD COLUMN failed_commit TEXT NOT NULL DEFAULT '';
ALTER TABLE runtime_state ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runtime_state ADD COLUMN retry_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runtime_state ADD COLUMN pinned_release INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runtime_state ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;

-- Repeated identical events are one row with a count.
ALTER TABLE event_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1;

-- Images Berth pulled itself (built ones are tagged berth/...): only
-- these are ever collected.
CREATE TABLE owned_images (
    image_id   TEXT PRIMARY KEY,
    ref        TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
