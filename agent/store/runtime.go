package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
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
	StatusScheduled = "scheduled" // a job: its image is ready, its runs come on schedule
)

// Outcomes of the last deploy, in runtime_state.last_deploy.
const (
	DeploySucceeded  = "succeeded"
	DeployFailed     = "failed"      // nothing was touched, or nothing ran before
	DeployRolledBack = "rolled_back" // the new version failed; the previous one serves again
	DeployInvalid    = "invalid"     // the workload file did not load
)

// Runtime is one workload's row in runtime_state: what serves it now, and
// what the last attempt did.
// NoRetry is the RetryAt of a failed version that is not retried on a
// schedule: it waits for a new commit, `berth retry` or a rollback.
var NoRetry = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

type Runtime struct {
	WorkloadID    string    `json:"workload_id"`
	Kind          string    `json:"kind,omitempty"`
	ContainerID   string    `json:"container_id"`
	ContainerName string    `json:"container_name"`
	Upstream      string    `json:"upstream,omitempty"`
	Image         string    `json:"image,omitempty"`
	ImageID       string    `json:"image_id,omitempty"`
	ImageDigest   string    `json:"image_digest,omitempty"`
	AppliedHash   string    `json:"applied_hash,omitempty"`
	Commit        string    `json:"commit,omitempty"`
	Strategy      string    `json:"strategy,omitempty"`
	ReleaseID     int64     `json:"release_id,omitempty"`
	Status        string    `json:"status"`
	LastDeploy    string    `json:"last_deploy,omitempty"`
	Message       string    `json:"message,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"`
	// The last failed desired state and when it may be tried again.
	FailedHash   string    `json:"failed_hash,omitempty"`
	FailedCommit string    `json:"failed_commit,omitempty"`
	Failures     int       `json:"failures,omitempty"`
	RetryAt      time.Time `json:"retry_at,omitzero"`
	// The operator's decisions: a rollback pins a release; a suspended
	// workload is not reconciled.
	PinnedRelease int64 `json:"pinned_release,omitempty"`
	Suspended     bool  `json:"suspended,omitempty"`
	// AppliedSpec is the flattened spec that serves (gitops.Fields).
	AppliedSpec map[string]string `json:"-"`
}

const runtimeColumns = `workload_id, container_id, container_name, upstream, image, image_digest,
	applied_hash, commit_sha, strategy, status, last_deploy, message, updated_at, kind, applied_spec,
	image_id, release_id, failed_hash, failed_commit, failures, retry_at, pinned_release, suspended`

// runtimeCache keeps the last ListRuntime in memory. A connection of its
// own asks SQLite's data_version, which changes whenever another
// connection (of this process or any other) committed: an idle tick then
// runs one tiny statement instead of reading every row.
type runtimeCache struct {
	watch   *sql.Conn
	mu      sync.Mutex
	rows    []Runtime
	version int64
	valid   bool
}

// ListRuntime returns every workload's row, sorted by id, in one query:
// the rows themselves, or only the data version when nothing was written
// since the last call.
func (s *Store) ListRuntime(ctx context.Context) ([]Runtime, error) {
	c := &s.runtime
	c.mu.Lock()
	defer c.mu.Unlock()
	s.count()
	var version int64
	if err := c.watch.QueryRowContext(ctx, "PRAGMA data_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("listing runtime state: %w", err)
	}
	if !c.valid || version != c.version {
		rows, err := s.listRuntime(ctx)
		if err != nil {
			return nil, err
		}
		c.rows, c.version, c.valid = rows, version, true
	}
	return slices.Clone(c.rows), nil
}

func (s *Store) listRuntime(ctx context.Context) ([]Runtime, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+runtimeColumns+" FROM runtime_state ORDER BY workload_id")
	if err != nil {
		return nil, fmt.Errorf("listing runtime state: %w", err)
	}
	defer rows.Close()
	var out []Runtime
	for rows.Next() {
		r, err := scanRuntime(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing runtime state: %w", err)
	}
	return out, nil
}

// GetRuntime returns one workload's row; ok is false when it has none.
func (s *Store) GetRuntime(ctx context.Context, workloadID string) (r Runtime, ok bool, err error) {
	s.count()
	rows, err := s.db.QueryContext(ctx, "SELECT "+runtimeColumns+" FROM runtime_state WHERE workload_id = ?", workloadID)
	if err != nil {
		return Runtime{}, false, fmt.Errorf("reading runtime state of %s: %w", workloadID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Runtime{}, false, rows.Err()
	}
	r, err = scanRuntime(rows)
	return r, err == nil, err
}

func scanRuntime(rows *sql.Rows) (Runtime, error) {
	var r Runtime
	var updated, retry int64
	var spec string
	if err := rows.Scan(&r.WorkloadID, &r.ContainerID, &r.ContainerName, &r.Upstream, &r.Image, &r.ImageDigest,
		&r.AppliedHash, &r.Commit, &r.Strategy, &r.Status, &r.LastDeploy, &r.Message, &updated, &r.Kind, &spec,
		&r.ImageID, &r.ReleaseID, &r.FailedHash, &r.FailedCommit, &r.Failures, &retry, &r.PinnedRelease, &r.Suspended); err != nil {
		return r, fmt.Errorf("reading runtime state: %w", err)
	}
	r.UpdatedAt = time.UnixMilli(updated).UTC()
	if retry > 0 {
		r.RetryAt = time.UnixMilli(retry).UTC()
	}
	if spec != "" {
		if err := json.Unmarshal([]byte(spec), &r.AppliedSpec); err != nil {
			return r, fmt.Errorf("reading the applied spec of %s: %w", r.WorkloadID, err)
		}
	}
	return r, nil
}

// execer is a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// PutRuntime inserts or replaces a workload's row. UpdatedAt defaults to now.
func (s *Store) PutRuntime(ctx context.Context, r Runtime) error {
	return s.putRuntime(ctx, s.db, r)
}

func (s *Store) putRuntime(ctx context.Context, db execer, r Runtime) error {
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
	var retry int64
	if !r.RetryAt.IsZero() {
		retry = r.RetryAt.UnixMilli()
	}
	_, err := db.ExecContext(ctx, `INSERT OR REPLACE INTO runtime_state (`+runtimeColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.WorkloadID, r.ContainerID, r.ContainerName, r.Upstream, r.Image, r.ImageDigest,
		r.AppliedHash, r.Commit, r.Strategy, r.Status, r.LastDeploy, r.Message, r.UpdatedAt.UnixMilli(), r.Kind, string(spec),
		r.ImageID, r.ReleaseID, r.FailedHash, r.FailedCommit, r.Failures, retry, r.PinnedRelease, r.Suspended)
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
