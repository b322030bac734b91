package agent

import (
	"context"
	"fmt"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
)

// KindWorkloadOOM: the kernel killed a process of a workload's container
// for want of memory.
const KindWorkloadOOM EventKind = "workload.oom"

// containerOOM reports an OOM kill of one of the agent's containers, with
// the limit the serving release set ("killed: out of memory at 512 MiB").
func (a *Agent) containerOOM(ctx context.Context, c docker.Container) {
	id := c.Workload()
	if id == "" {
		return
	}
	limit := "no memory limit (the host ran out)"
	if row, ok, err := a.store.GetRuntime(ctx, id); err == nil && ok && row.ReleaseID != 0 {
		if rel, ok, err := a.store.Release(ctx, row.ReleaseID); err == nil && ok {
			if w, err := gitops.DecodeWorkload(rel.Spec); err == nil && w.Resources != nil && w.Resources.Memory > 0 {
				limit = "at " + sources.ByteSize(w.Resources.Memory).Human()
			}
		}
	}
	a.log.Warn("container killed: out of memory", "workload", id, "limit", limit)
	a.events.count(ctx, store.Event{WorkloadID: id, Kind: string(KindWorkloadOOM), Severity: store.SeverityError,
		Message: fmt.Sprintf("%s killed: out of memory %s", id, limit)})
}
