package agent

import (
	"time"

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
}

// Stage is the step of a deploy that failed.
type Stage string

// The stages a deploy can fail at.
const (
	StageSecrets  Stage = "shared secrets"
	StagePrepare  Stage = "preparing the image"
	StageEnv      Stage = "reading the image's env"
	StageStart    Stage = "starting the new container"
	StageGate     Stage = "readiness gate"
	StageCompose  Stage = "docker compose"
	StageAppRepo  Stage = "fetching the app repo"
	StageRecorded Stage = "recording the deploy"
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
	// events leave the host), and whether the running version still serves.
	Stage       Stage
	Reason      string
	BlueServing bool
	// Err is the full, redacted error, for the log and the returned error.
	Err    error
	Timing Timing
	Took   time.Duration

	left sources.Container // a new container left running by a failed recreate
}
