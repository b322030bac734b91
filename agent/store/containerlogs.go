package store

import (
	"context"
	"fmt"
	"time"
)

// ContainerLog is the last output of a container Berth removed.
type ContainerLog struct {
	ID         int64     `json:"id"`
	WorkloadID string    `json:"workload"`
	Container  string    `json:"container"`
	Commit     string    `json:"commit,omitempty"`
	Reason     string    `json:"reason"` // "failed its gate", "replaced", ...
	CapturedAt time.Time `json:"captured_at"`
	Lines      string    `json:"lines"`
}

// KeepContainerLogs is how many captures a workload keeps.
const KeepContainerLogs = 5

// AddContainerLog keeps a removed container's last lines (already
// redacted by the caller), dropping the workload's oldest beyond
// KeepContainerLogs.
func (s *Store) AddContainerLog(ctx context.Context, l ContainerLog) error {
	s.count()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO container_logs (workload_id, container, commit_sha, reason, captured_at, lines)
		VALUES (?, ?, ?, ?, ?, ?)`, l.WorkloadID, l.Container, l.Commit, l.Reason, l.CapturedAt.UnixMilli(), l.Lines); err != nil {
		return fmt.Errorf("keeping a container's logs: %w", err)
	}
	s.count()
	_, err := s.db.ExecContext(ctx, `DELETE FROM container_logs WHERE workload_id = ? AND id NOT IN
		(SELECT id FROM container_logs WHERE workload_id = ? ORDER BY id DESC LIMIT ?)`, l.WorkloadID, l.WorkloadID, KeepContainerLogs)
	return err
}

// ContainerLogs lists a workload's kept captures, newest first.
func (s *Store) ContainerLogs(ctx context.Context, workloadID string) ([]ContainerLog, error) {
	s.count()
	rows, err := s.db.QueryContext(ctx, `SELECT id, workload_id, container, commit_sha, reason, captured_at, lines
		FROM container_logs WHERE workload_id = ? ORDER BY id DESC`, workloadID)
	if err != nil {
		return nil, fmt.Errorf("reading kept logs: %w", err)
	}
	defer rows.Close()
	out := []ContainerLog{}
	for rows.Next() {
		var l ContainerLog
		var at int64
		if err := rows.Scan(&l.ID, &l.WorkloadID, &l.Container, &l.Commit, &l.Reason, &at, &l.Lines); err != nil {
			return nil, err
		}
		l.CapturedAt = time.UnixMilli(at).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}
