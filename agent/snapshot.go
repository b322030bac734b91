package agent

import (
	"context"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
)

// snapshot is everything a tick reads before it acts: every runtime row
// and every container the agent owns, by workload id.
type snapshot struct {
	rows       map[string]store.Runtime
	containers map[string][]docker.Container
	// tasks are the running tasks of Swarm services and stacks, by
	// workload id, when tasksRead (service.go).
	tasks     map[string][]docker.Task
	tasksRead bool
}

func newSnapshot(rows []store.Runtime, cs []docker.Container) *snapshot {
	s := &snapshot{rows: make(map[string]store.Runtime, len(rows)), containers: map[string][]docker.Container{}}
	for _, r := range rows {
		s.rows[r.WorkloadID] = r
	}
	for _, c := range cs {
		if c.Labels[docker.LabelTask] != "" {
			continue // a task's run (before_deploy, a job): not a serving container
		}
		s.containers[c.Workload()] = append(s.containers[c.Workload()], c)
	}
	return s
}

// takeSnapshot reads every runtime row in one query and every owned
// container from the container view (no Docker call while the event
// stream keeps it complete) or in one Docker call. No per-workload reads
// follow.
func (a *Agent) takeSnapshot(ctx context.Context) (*snapshot, error) {
	rows, err := a.store.ListRuntime(ctx)
	if err != nil {
		return nil, err
	}
	var cs []docker.Container
	if a.view != nil {
		cs, err = a.view.containers(ctx)
	} else {
		cs, err = a.docker.List(ctx, a.opts.Name)
	}
	if err != nil {
		return nil, err
	}
	s := newSnapshot(rows, a.own(cs))
	if a.swarmTasks(rows) {
		if err := a.readTasks(ctx, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// own drops containers another state dir made: an agent that shares this
// agent's name (a copy-pasted unit, two state dirs on one host) must not
// have its containers removed as leftovers or pruned. Containers without
// the label (made before it existed) are adopted.
func (a *Agent) own(cs []docker.Container) []docker.Container {
	if a.opts.StateID == "" {
		return cs
	}
	out := cs[:0:0]
	foreign := 0
	for _, c := range cs {
		if s := c.Labels[docker.LabelState]; s != "" && s != a.opts.StateID {
			foreign++
			continue
		}
		out = append(out, c)
	}
	if foreign > 0 {
		a.log.Warn("ignoring containers of another state dir with the same agent name", "agent", a.opts.Name, "containers", foreign)
	}
	return out
}

// current is the container the row names, when it still exists.
func current(row store.Runtime, cs []docker.Container) *docker.Container {
	for i := range cs {
		if cs[i].ID == row.ContainerID && row.ContainerID != "" {
			return &cs[i]
		}
	}
	return nil
}

// stackProject is the compose project of a workload's containers, "" for
// containers Berth runs itself.
func stackProject(cs []docker.Container) string {
	for _, c := range cs {
		if p := c.Labels["com.docker.compose.project"]; p != "" {
			return p
		}
	}
	return ""
}
