package agent

import (
	"fmt"
	"strings"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
)

// statusReport is what the agent writes to its folder on the status
// branch after a tick.
func statusReport(agent string, res *TickResult, rows []store.Runtime) gitops.StatusReport {
	r := gitops.StatusReport{Agent: agent, Commit: res.Commit, Workloads: map[string]gitops.WorkloadStatus{}}
	for _, row := range rows {
		h := health(row)
		r.Workloads[row.WorkloadID] = gitops.WorkloadStatus{
			State: h.State, Summary: h.Summary, Strategy: row.Strategy, Commit: row.Commit, Container: row.ContainerName,
			Message: row.Message, FailedCommit: row.FailedCommit, Pinned: row.PinnedRelease != 0, Suspended: row.Suspended,
			UpdatedAt: row.UpdatedAt,
		}
	}
	r.Message = statusMessage(agent, res)
	r.Unverified = res.Unverified
	return r
}

// statusMessage says what happened: "berth(host-a): bar/web deployed
// abc1234 via blue-green" for one change, counts for several.
func statusMessage(agent string, res *TickResult) string {
	prefix := fmt.Sprintf("berth(%s): ", agent)
	if res.Note != "" {
		return prefix + res.Note
	}
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
