package agent

import (
	"fmt"
	"strings"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// Health is what serves a workload now, the same everywhere it is shown:
// `berth status`, the API, the UI, badges and the status branch.
type Health struct {
	// State is one word: running, degraded, down, pinned, suspended,
	// invalid, deploying or unknown.
	State string `json:"state"`
	// Summary says it in a sentence: "running abc1234",
	// "degraded: def5678 failed, abc1234 serving", "down".
	Summary string `json:"summary"`
}

// The states.
const (
	StateRunning   = "running"
	StateDegraded  = "degraded"
	StateDown      = "down"
	StatePinned    = "pinned"
	StateSuspended = "suspended"
	StateInvalid   = "invalid"
	StateDeploying = "deploying"
	StateUnknown   = "unknown"
)

// WorkloadView is a workload as the API shows it: its row and what that
// means (running, degraded, down, pinned, suspended).
type WorkloadView struct {
	store.Runtime
	Health
	// Usage is its containers' use at the last sample (--stats-interval).
	Usage []docker.Usage `json:"usage,omitempty"`
	// Hosts are the hosts its route serves.
	Hosts []string `json:"hosts,omitempty"`
}

// WorkloadViews describes rows as the API and `berth status` show them.
func WorkloadViews(rows []store.Runtime) []WorkloadView {
	out := make([]WorkloadView, 0, len(rows))
	for _, r := range rows {
		out = append(out, WorkloadView{Runtime: r, Health: health(r)})
	}
	return out
}

// HealthOf is what serves the workload of a row now (see health).
func HealthOf(r store.Runtime) Health { return health(r) }

// health tells the truth about a row: a workload whose serving container
// is gone or stopped is never shown running, and a failed new version
// with the old one still serving is degraded, not running.
func health(r store.Runtime) Health {
	serving := r.Status == store.StatusRunning || r.Status == store.StatusDegraded
	failed := r.LastDeploy == store.DeployFailed || r.LastDeploy == store.DeployRolledBack
	switch {
	case r.Suspended:
		return Health{StateSuspended, fmt.Sprintf("suspended (%s)", servingWord(r, serving))}
	case r.LastDeploy == store.DeployInvalid:
		return Health{StateInvalid, "invalid: " + r.Message}
	case r.Status == store.StatusDeploying:
		return Health{StateDeploying, "deploying"}
	case r.Status == store.StatusScheduled && !failed && strings.HasPrefix(r.Message, jobFailedPrefix):
		return Health{StateDegraded, "scheduled " + shortSHA(r.Commit) + "; " + r.Message}
	case r.Status == store.StatusScheduled && !failed:
		return Health{StateRunning, "scheduled " + shortSHA(r.Commit)}
	case !serving && (r.Status == "" && r.AppliedHash == "" && !failed):
		return Health{StateUnknown, "unknown"}
	case !serving:
		if failed {
			return Health{StateDown, fmt.Sprintf("down: %s failed", orNew(r.FailedCommit))}
		}
		return Health{StateDown, "down"}
	case r.Kind == string(sources.KindCompose) && r.Status == store.StatusDegraded:
		return Health{StateDegraded, fmt.Sprintf("degraded: some containers of %s are not running", shortSHA(r.Commit))}
	case (serviceRow(r) || r.Kind == string(sources.KindStack)) && r.Status == store.StatusDegraded:
		return Health{StateDegraded, fmt.Sprintf("degraded: some Swarm tasks of %s are not running", shortSHA(r.Commit))}
	case r.PinnedRelease != 0:
		return Health{StatePinned, fmt.Sprintf("pinned to %s", shortSHA(r.Commit))}
	case failed:
		return Health{StateDegraded, fmt.Sprintf("degraded: %s failed, %s serving", orNew(r.FailedCommit), commitOr(r.Commit, "the previous version"))}
	}
	return Health{StateRunning, "running " + shortSHA(r.Commit)}
}

func orNew(commit string) string { return commitOr(commit, "the new version") }

func commitOr(commit, fallback string) string {
	if commit == "" {
		return fallback
	}
	return shortSHA(commit)
}

func servingWord(r store.Runtime, serving bool) string {
	if serving {
		return "serving " + shortSHA(r.Commit)
	}
	return "not serving"
}
