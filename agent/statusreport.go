package agent

import (
	"fmt"
	"strings"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
)

// state is a workload's one-word state, for status.json and badges.
func state(r store.Runtime) string {
	switch {
	case r.LastDeploy == store.DeployFailed:
		return "failed"
	case r.LastDeploy == store.DeployInvalid:
		return "invalid"
	case r.Status == store.StatusDeploying:
		return "deploying"
	case r.Status == store.StatusRunning:
		return "deployed"
	case r.Status == "":
		return "unknown"
	}
	return r.Status // missing, exited, degraded, ...
}

// statusReport is what the agent writes to its folder on the status
// branch after a tick.
func statusReport(agent string, res *TickResult, rows []store.Runtime) gitops.StatusReport {
	r := gitops.StatusReport{Agent: agent, Commit: res.Commit, Workloads: map[string]gitops.WorkloadStatus{}}
	for _, row := range rows {
		r.Workloads[row.WorkloadID] = gitops.WorkloadStatus{
			State: state(row), Strategy: row.Strategy, Commit: row.Commit, Container: row.ContainerName,
			Message: row.Message, UpdatedAt: row.UpdatedAt,
		}
	}
	r.Message = statusMessage(agent, res)
	return r
}

// statusMessage says what happened: "berth(host-a): bar/web deployed
// abc1234 via blue-green" for one change, counts for several.
func statusMessage(agent string, res *TickResult) string {
	prefix := fmt.Sprintf("berth(%s): ", agent)
	deployed, failed := res.Deployed, res.Failed
	if o := res.outcome(firstOf(deployed)); len(deployed) == 1 && len(failed)+len(res.Pruned) == 0 && o != nil {
		return fmt.Sprintf("%s%s deployed %s via %s", prefix, o.Workload.ID(), shortSHA(res.Commit), o.Decision.Strategy)
	}
	if len(failed) == 1 && len(deployed)+len(res.Pruned) == 0 {
		return fmt.Sprintf("%s%s failed at %s", prefix, failed[0], shortSHA(res.Commit))
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{len(deployed), "deployed"}, {len(failed), "failed"}, {len(res.Pruned), "pruned"}, {res.Observed, "changed state"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		parts = []string{"status"}
	}
	return fmt.Sprintf("%s%s at %s", prefix, strings.Join(parts, ", "), shortSHA(res.Commit))
}
