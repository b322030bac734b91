package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Workload statuses in runtime_state.status: the observed container state,
// or why there is none.
const (
	StatusRunning   = "running"
	StatusExited    = "exited"
	StatusMissing   = "missing"   // the container vanished
	StatusDeploying = "deploying" // a deploy is in flight
	StatusFailed    = "failed"    // the first deploy failed: nothing runs
	StatusDegraded  = "degraded"  // some of a compose stack's containers are not running
	StatusInvalid   = "invalid"   // the workload file does not load
)

// Outcomes of the last deploy, in runtime_state.last_deploy.
const (
	DeploySucceeded = "succeeded"
	DeployFailed    = "failed"
	DeployInvalid   = "invalid" // the workload file did not load
)

// Runtime is one workload's row in runtime_state.
type Runtime struct {
	WorkloadID    string    `json:"workload_id"`
	Kind          string    `json:"kind,omitempty"`
	ContainerID   string    `json:"container_id"`
	ContainerName string    `json:"container_name"`
	Upstream      string    `json:"upstream,omitempty"`
	Image         string    `json:"image,omitempty"`
	ImageDigest   string    `json:"image_digest,omitempty"`
	AppliedHash   string    `json:"applied_hash,omitempty"`
	Commit        string    `json:"commit,omitempty"`
	Strategy      string    `json:"strategy,omitempty"`
	Status        string    `json:"status"`
	LastDeploy    string    `json:"last_deploy,omitempty"`
	Message       string    `json:"message,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"`
	// AppliedSpec is the flattened spec that serves (gitops.Fields).
	AppliedSpec map[string]string `json:"-"`
}

const runtimeColumns = `workload_id, container_id, container_name, upstream, image, image_digest,
	applied_hash, commit_sha, strategy, status, last_deploy, message, updated_at, kind, applied_spec`

// ListRuntime returns every workload's row, in one query, sorted by id.
func (s *Store) ListRuntime(ctx context.Context) ([]Runtime, error) {
	s.count()
	rows, err := s.db.QueryContext(ctx, "SELECT "+runtimeColumns+" FROM runtime_state ORDER BY workload_id")
	if err != nil {
		return nil, fmt.Errorf("listing runtime state: %w", err)
	}
	defer rows.Close()
	var out []Runtime
	for rows.Next() {
		var r Runtime
		var updated int64
		var spec string
		if err := rows.Scan(&r.WorkloadID, &r.ContainerID, &r.ContainerName, &r.Upstream, &r.Image, &r.ImageDigest,
			&r.AppliedHash, &r.Commit, &r.Strategy, &r.Status, &r.LastDeploy, &r.Message, &updated, &r.Kind, &spec); err != nil {
			return nil, fmt.Errorf("reading runtime state: %w", err)
		}
		r.UpdatedAt = time.UnixMilli(updated).UTC()
		if spec != "" {
			if err := json.Unmarshal([]byte(spec), &r.AppliedSpec); err != nil {
				return nil, fmt.Errorf("reading the applied spec of %s: %w", r.WorkloadID, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing runtime state: %w", err)
	}
	return out, nil
}

// PutRuntime inserts or replaces a workload's row. UpdatedAt defaults to now.
func (s *Store) PutRuntime(ctx context.Context, r Runtime) error {
	s.count()
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = time.Now()
	}
	r.Message = Truncate(r.Message, MaxMessageRunes)
	var spec []byte
	if r.AppliedSpec != nil {
		var err error
		if spec, err = json.Marshal(r.AppliedSpec); err != nil {
			return fmt.Errorf("encoding the applied spec of %s: %w", r.WorkloadID, err)
		}
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO runtime_state (`+runtimeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (workload_id) DO UPDATE SET
			container_id = excluded.container_id, container_name = excluded.container_name,
			upstream = excluded.upstream, image = excluded.image, image_digest = excluded.image_digest,
			applied_hash = excluded.applied_hash, commit_sha = excluded.commit_sha,
			strategy = excluded.strategy, status = excluded.status, last_deploy = excluded.last_deploy,
			message = excluded.message, updated_at = excluded.updated_at, kind = excluded.kind,
			applied_spec = excluded.applied_spec`,
		r.WorkloadID, r.ContainerID, r.ContainerName, r.Upstream, r.Image, r.ImageDigest,
		r.AppliedHash, r.Commit, r.Strategy, r.Status, r.LastDeploy, r.Message, r.UpdatedAt.UnixMilli(), r.Kind, string(spec))
	if err != nil {
		return fmt.Errorf("writing runtime state of %s: %w", r.WorkloadID, err)
	}
	return nil
}

// DeleteRuntime removes a workload's row.
func (s *Store) DeleteRuntime(ctx context.Context, workloadID string) error {
	s.count()
	if _, err := s.db.ExecContext(ctx, "DELETE FROM runtime_state WHERE workload_id = ?", workloadID); err != nil {
		return fmt.Errorf("deleting runtime state of %s: %w", workloadID, err)
	}
	return nil
}
