package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
)

// Under --engine swarm, image, dockerfile and static workloads run as
// Swarm services (engine/service.go). Their containers are Swarm's, on
// any node, so they carry no berth.agent label and are never in the
// container snapshot: the tick reads their tasks instead, in one call.

// KindTaskFailed: a task of a workload's Swarm service (or stack) ended
// unasked — killed, crashed, its node gone; Swarm starts another.
const KindTaskFailed EventKind = "workload.task_failed"

// EngineSwarm is the --engine value that runs workloads as Swarm services.
const EngineSwarm = "swarm"

// swarmNodes is what the tick knows of Swarm's tasks between ticks.
type swarmNodes struct {
	mu       sync.Mutex
	started  time.Time       // tasks that failed before it are not reported
	reported map[string]bool // failed tasks already reported
}

// swarmDocker is what the agent asks Docker about services and tasks
// (the real client has it).
type swarmDocker interface {
	AgentTasks(ctx context.Context, agent string) ([]docker.Task, error)
	Tag(ctx context.Context, src, dst string) error
	Push(ctx context.Context, ref string) (string, error)
	RemoveService(ctx context.Context, name string) error
	RemoveSecrets(ctx context.Context, workload string, keep map[string]bool) error
}

var _ swarmDocker = (*docker.Client)(nil)

// swarm is the Docker client's service side.
func (a *Agent) swarm() (swarmDocker, error) {
	sd, ok := a.docker.(swarmDocker)
	if !ok {
		return nil, fmt.Errorf("this Docker client cannot reach Swarm")
	}
	return sd, nil
}

// serviceRow reports whether a row names a workload's Swarm service.
func serviceRow(r store.Runtime) bool {
	return r.ContainerID == "" && strings.HasPrefix(r.ContainerName, sources.ServicePrefix) && !sources.Kind(r.Kind).Managed()
}

// swarmTasks reports whether the tick reads Swarm's tasks: under
// --engine swarm, or when a stack is deployed.
func (a *Agent) swarmTasks(rows []store.Runtime) bool {
	if a.opts.Engine.Services != nil {
		return true
	}
	return slices.ContainsFunc(rows, func(r store.Runtime) bool { return r.Kind == string(sources.KindStack) })
}

// readTasks adds the tasks of the agent's services and stacks to the
// snapshot (one Docker call), and reports tasks that failed since the
// last tick.
func (a *Agent) readTasks(ctx context.Context, s *snapshot) error {
	sd, err := a.swarm()
	if err != nil {
		return err
	}
	ts, err := sd.AgentTasks(ctx, a.opts.Name)
	if err != nil {
		return err
	}
	s.tasks, s.tasksRead = map[string][]docker.Task{}, true
	for _, t := range ts {
		if t.Desired == "running" {
			s.tasks[t.Workload()] = append(s.tasks[t.Workload()], t)
		}
	}
	a.reportTaskFailures(ctx, ts)
	return nil
}

// reportTaskFailures reports each task that failed after the agent
// started, once.
func (a *Agent) reportTaskFailures(ctx context.Context, ts []docker.Task) {
	for _, t := range ts {
		if t.State != "failed" && t.State != "rejected" || t.At.Before(a.nodes.started) {
			continue
		}
		a.nodes.mu.Lock()
		seen := a.nodes.reported[t.ID]
		a.nodes.reported[t.ID] = true
		a.nodes.mu.Unlock()
		if seen {
			continue
		}
		msg := fmt.Sprintf("task %d of %s %s: %s; Swarm starts another", t.Slot, t.Workload(), t.State, firstNonEmpty(t.Err, "no reason given"))
		a.log.Warn("a Swarm task failed", "workload", t.Workload(), "task", t.ID, "error", t.Err)
		a.events.add(ctx, store.Event{WorkloadID: t.Workload(), Kind: string(KindTaskFailed), Severity: store.SeverityWarn,
			Message: msg, Commit: t.Labels[docker.LabelCommit]})
	}
}

// observeTasks brings a service's or stack's row in line with its tasks:
// all running is running, some is degraded, none is missing; a service's
// route follows its running tasks.
func observeTasks(ob *observation, row store.Runtime, ts []docker.Task, w *sources.Workload) {
	running := 0
	var addrs []string
	for _, t := range ts {
		if t.State == "running" {
			running++
			if t.Addr != "" {
				addrs = append(addrs, t.Addr)
			}
		}
	}
	want := len(ts)
	if serviceRow(row) && w != nil && w.Mode != sources.ModeGlobal {
		want = max(want, engine.Replicas(w))
	}
	next := ob.next
	switch {
	case running == 0:
		next.Status = store.StatusMissing
	case running < want:
		next.Status = store.StatusDegraded
	default:
		next.Status = store.StatusRunning
	}
	if serviceRow(row) {
		slices.Sort(addrs)
		next.Upstream = strings.Join(addrs, ",")
	}
	ob.next = next
	ob.changed = ob.changed || next.Status != row.Status
	ob.write = ob.write || ob.changed || next.Upstream != row.Upstream
	ob.missing = next.Status == store.StatusMissing && row.Status != store.StatusMissing
}

// serviceRouteFix keeps a service's route on its running tasks.
func serviceRouteFix(w *sources.Workload, upstream string, routes map[string]router.Route, m *router.Maintenance) *routeFix {
	if w.Route == nil || upstream == "" && m == nil {
		return nil
	}
	want := router.Route{ID: w.ID(), Hosts: w.Route.Hosts, Upstream: upstream, Balanced: true, Maintenance: m}
	if cur, has := routes[w.ID()]; has && cur.Equal(want) {
		return nil
	}
	return &routeFix{route: want}
}

// serviceImage is the image reference a service runs: a recorded
// release's digest, or the prepared image made pullable (pushForSwarm).
func (a *Agent) serviceImage(ctx context.Context, d deployment, ref string, img docker.Image) (string, error) {
	if d.release != nil && d.release.Image != "" {
		// The release's reference: a digest when it was pinned or pushed
		// (an image id, which prepare reuses locally, is no reference a
		// node can pull).
		return d.release.Image, nil
	}
	return a.pushForSwarm(ctx, d.w, ref, img)
}

// pushForSwarm makes an image every node can pull: a build is tagged
// into --push-registry and pushed, an image from a registry is pinned by
// digest. Without a push registry a local build stays on this node.
func (a *Agent) pushForSwarm(ctx context.Context, w *sources.Workload, ref string, img docker.Image) (string, error) {
	if img.Digest != "" && !strings.HasPrefix(ref, sources.BuiltRepo(w)+":") {
		return img.Digest, nil
	}
	if a.opts.PushRegistry == "" {
		a.log.Warn("no --push-registry: the built image runs on this node only", "workload", w.ID(), "image", ref)
		return ref, nil
	}
	sd, err := a.swarm()
	if err != nil {
		return "", err
	}
	remote := strings.TrimSuffix(a.opts.PushRegistry, "/") + "/" + ref
	if err := sd.Tag(ctx, ref, remote); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, max(a.opts.Timeouts.Pull, time.Minute))
	defer cancel()
	digest, err := sd.Push(ctx, remote)
	if err != nil {
		return "", err
	}
	name := remote
	if i := strings.LastIndex(remote, ":"); i > strings.LastIndex(remote, "/") {
		name = remote[:i]
	}
	return name + "@" + digest, nil
}

// serviceGone reports whether a service row's service has no task Swarm
// wants running: it was removed behind Berth's back.
func serviceGone(s *snapshot, row store.Runtime) bool {
	return serviceRow(row) && s.tasksRead && len(s.tasks[row.WorkloadID]) == 0 && row.AppliedHash != ""
}
