-- Snapshots of named volumes (sealed: age(zstd(tar))), and the current
-- generation of a restored volume (Docker cannot rename a volume: a
-- restore makes a new one).
CREATE TABLE backups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workload_id TEXT NOT NULL,
    volume      TEXT NOT NULL,            -- the workload's name for it
    docker_name TEXT NOT NULL,            -- the Docker volume it was read from
    release_id  INTEGER NOT NULL DEFAULT 0,
    commit_sha  TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    size        INTEGER NOT NULL,         -- the plaintext tar's bytes
    sha256      TEXT NOT NULL,            -- the plaintext tar's SHA-256
    location    TEXT NOT NULL             -- where the sealed object is
);
CREATE INDEX backups_workload ON backups (workload_id, id);

CREATE TABLE volume_generations (
    base    TEXT PRIMARY KEY,             -- the volume's Docker name before any restore
    current TEXT NOT NULL                 -- the generation in use
);
