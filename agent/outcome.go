package agent

import (
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// Result is how a deploy ended.
type Result int

// The results.
const (
	Succeeded Result = iota
	Failed
)

func (r Result) String() string {
	if r == Failed {
		return "failed"
	}
	return "succeeded"
}

// Timing is how one deploy went, for benchmarks and logs.
type Timing struct {
	Strategy sources.Strategy
	Started  time.Time // the new container started
	Ready    time.Time // it passed the gate
	Swapped  time.Time // the route points at it
	// For a rolled-back recreate: when the failure was seen and when the
	// old version was routed to again.
	Failed, Restored time.Time
}

// Stage is the step of a deploy that failed.
type Stage string

// The stages a deploy can fail at.
const (
	StageSecrets Stage = "shared secrets"
	StagePrepare Stage = "preparing the image"
	StageEnv     Stage = "reading the image's env"
	StageStart   Stage = "starting the new container"
	StageGate    Stage = "readiness gate"
	// StageSnapshot is the snapshot of the volumes before a deploy.
	StageSnapshot Stage = "snapshot before deploy"
	// StageBeforeDeploy is the workload's before_deploy task.
	StageBeforeDeploy Stage = "before_deploy"
	StageCompose      Stage = "docker compose"
	StageAppRepo      Stage = "fetching the app repo"
	StageRecorded     Stage = "recording the deploy"
)

// Outcome is what one deploy of one workload did. The deploy path returns
// it; the reporter fans it out (events, SSE, commit statuses, the status
// branch), so no deploy code writes events or calls a forge.
type Outcome struct {
	Workload *sources.Workload
	Commit   string
	Decision sources.Decision
	Why      Why
	Image    string
	Result   Result
	// For a failure: the stage, a generic reason (never raw tool output:
	// events leave the host), and what serves now: the running version
	// untouched, the previous version put back by the engine's revert
	// (reported as rolled back), or nothing (the revert failed, or nothing
	// ran before).
	Stage        Stage
	Reason       string
	StillServing bool
	Reverted     bool
	RevertFailed bool
	// Recovered: the workload was failing or down before this success.
	Recovered bool
	// Release is the release a success recorded.
	Release int64
	// Err is the full, redacted error, for the log and the returned error.
	Err    error
	Timing Timing
	Took   time.Duration
	// Gate says how the readiness gate decided, for the event.
	Gate string

	revertedTo docker.Container // the old container a revert started again
	// snaps are the deploy's pre-deploy snapshots, and cause what failed
	// it: a failure may restore the data (on_failure: restore-data).
	snaps []store.Backup
	cause error
}
