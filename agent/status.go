package agent

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
)

// KindStatusPushFailed is the warning written when the status branch could
// not be updated; deploys are not affected.
const KindStatusPushFailed = "status.push_failed"

// statusPusher writes an agent's status report back to git.
type statusPusher interface {
	Push(ctx context.Context, r gitops.StatusReport) error
}

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

// report pushes the status of every workload after a tick that changed
// something. A failed push is a warning: the deploys already happened.
func (a *Agent) report(ctx context.Context, res *TickResult) {
	if a.opts.Status == nil {
		return
	}
	rows, err := a.store.ListRuntime(ctx)
	if err != nil {
		a.log.Warn("status report skipped", "error", err)
		return
	}
	r := gitops.StatusReport{Agent: a.opts.Name, Commit: res.Commit, Workloads: map[string]gitops.WorkloadStatus{}}
	for _, row := range rows {
		r.Workloads[row.WorkloadID] = gitops.WorkloadStatus{
			State: state(row), Strategy: row.Strategy, Commit: row.Commit, Container: row.ContainerName,
			Message: row.Message, UpdatedAt: row.UpdatedAt,
		}
	}
	r.Message = a.statusMessage(res, rows)
	if err := a.opts.Status.Push(ctx, r); err != nil {
		a.log.Warn("status push failed", "error", err)
		a.events.add(ctx, store.Event{Kind: KindStatusPushFailed, Severity: store.SeverityWarn, Commit: res.Commit,
			Message: "status branch not updated: " + err.Error()})
		return
	}
	a.log.Info("status pushed", "message", r.Message)
}

// statusMessage says what happened: "berth(host-a): bar/web deployed
// abc1234 via blue-green" for one change, counts for several.
func (a *Agent) statusMessage(res *TickResult, rows []store.Runtime) string {
	prefix := fmt.Sprintf("berth(%s): ", a.opts.Name)
	byID := map[string]store.Runtime{}
	for _, r := range rows {
		byID[r.WorkloadID] = r
	}
	if len(res.Deployed) == 1 && len(res.Failed)+len(res.Pruned) == 0 {
		row := byID[res.Deployed[0]]
		strategy, _, _ := strings.Cut(row.Strategy, " (")
		return fmt.Sprintf("%s%s deployed %s via %s", prefix, row.WorkloadID, shortSHA(res.Commit), strategy)
	}
	if len(res.Failed) == 1 && len(res.Deployed)+len(res.Pruned) == 0 {
		return fmt.Sprintf("%s%s failed at %s", prefix, res.Failed[0], shortSHA(res.Commit))
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{len(res.Deployed), "deployed"}, {len(res.Failed), "failed"}, {len(res.Pruned), "pruned"}, {res.Observed, "changed state"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		parts = []string{"status"}
	}
	sort.Strings(res.Deployed)
	return fmt.Sprintf("%s%s at %s", prefix, strings.Join(parts, ", "), shortSHA(res.Commit))
}

// badge serves GET /badges/{app}/{name}.svg: the same SVG the status
// branch holds.
func (a *Agent) badge(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok {
		http.NotFound(w, r)
		return
	}
	id := r.PathValue("app") + "/" + name
	rows, err := a.store.ListRuntime(r.Context())
	if err != nil {
		http.Error(w, "listing workloads failed", http.StatusInternalServerError)
		return
	}
	st := "unknown"
	for _, row := range rows {
		if row.WorkloadID == id {
			st = state(row)
		}
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(gitops.Badge(id, st))
}
