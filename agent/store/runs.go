package store

import (
	"context"
	"fmt"
	"time"
)

// Run is one run of a one-off task: a job's, or a before_deploy task's.
type Run struct {
	ID         int64     `json:"id"`
	WorkloadID string    `json:"workload"`
	Task       string    `json:"task"`    // job | before_deploy
	Trigger    string    `json:"trigger"` // schedule | catch_up | operator | deploy
	Commit     string    `json:"commit,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	ExitCode   int       `json:"exit_code"`
	TimedOut   bool      `json:"timed_out,omitempty"`
	Error      string    `json:"error,omitempty"`
	// OutputTail is the last 4 KiB of its output, secrets redacted.
	OutputTail string `json:"output_tail"`
}

// Run kinds and triggers.
const (
	TaskJob          = "job"
	TaskBeforeDeploy = "before_deploy"

	TriggerSchedule = "schedule"
	TriggerCatchUp  = "catch_up"
	TriggerOperator = "operator"
	TriggerDeploy   = "deploy"
)

// MaxRuns is how many runs of each workload are kept.
const MaxRuns = 50

// AddRun records a run and keeps the newest MaxRuns of its workload.
func (s *Store) AddRun(ctx context.Context, r Run) (int64, error) {
	s.count()
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (workload_id, task, trigger, commit_sha, started_at, duration_ms, exit_code, timed_out, error, output_tail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.WorkloadID, r.Task, r.Trigger, r.Commit, r.StartedAt.UnixMilli(), r.DurationMS, r.ExitCode, boolInt(r.TimedOut), r.Error, r.OutputTail)
	if err != nil {
		return 0, fmt.Errorf("recording a run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	s.count()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM runs WHERE workload_id = ? AND id <= ?`, r.WorkloadID, id-MaxRuns); err != nil {
		return id, fmt.Errorf("trimming runs: %w", err)
	}
	return id, nil
}

// Runs lists runs, newest first: of one workload, or of all ("").
func (s *Store) Runs(ctx context.Context, workloadID string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = MaxRuns
	}
	q := `SELECT id, workload_id, task, trigger, commit_sha, started_at, duration_ms, exit_code, timed_out, error, output_tail FROM runs`
	args := []any{}
	if workloadID != "" {
		q += ` WHERE workload_id = ?`
		args = append(args, workloadID)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	s.count()
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	defer rows.Close()
	out := []Run{}
	for rows.Next() {
		var r Run
		var started int64
		var timedOut int
		if err := rows.Scan(&r.ID, &r.WorkloadID, &r.Task, &r.Trigger, &r.Commit, &started, &r.DurationMS, &r.ExitCode, &timedOut, &r.Error, &r.OutputTail); err != nil {
			return nil, err
		}
		r.StartedAt, r.TimedOut = time.UnixMilli(started).UTC(), timedOut != 0
		out = append(out, r)
	}
	return out, rows.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
