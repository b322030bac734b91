-- applied_spec: the flattened spec of what serves (field → value, no secret
-- values: the shared-secret layer appears only as a short HMAC), so the next
-- deploy can say which fields changed.
ALTER TABLE runtime_state ADD COLUMN applied_spec TEXT NOT NULL DEFAULT '';
