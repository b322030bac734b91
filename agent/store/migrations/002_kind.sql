-- kind: the workload's source kind, so reconcile can tell a compose stack
-- (many containers, managed by docker compose) from a single container.
ALTER TABLE runtime_state ADD COLUMN kind TEXT NOT NULL DEFAULT '';
