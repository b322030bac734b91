-- The Activity panel's Errors filter (workload, severity, newest first)
-- and pruning by age read an index instead of scanning the log.
CREATE INDEX event_log_workload_severity ON event_log (workload_id, severity, id);
CREATE INDEX event_log_time ON event_log (time);
