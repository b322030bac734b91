package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// ServiceAPI is what the swarm engine asks Docker.
type ServiceAPI interface {
	SwarmManager(ctx context.Context) error
	NodeID(ctx context.Context) (string, error)
	ServiceByName(ctx context.Context, name string) (docker.Service, bool, error)
	CreateService(ctx context.Context, spec swarm.ServiceSpec) (string, error)
	UpdateService(ctx context.Context, id string, version uint64, spec swarm.ServiceSpec) error
	RollbackService(ctx context.Context, id string) error
	RemoveService(ctx context.Context, name string) error
	ServiceTasks(ctx context.Context, serviceID string) ([]docker.Task, error)
}

var _ ServiceAPI = (*docker.Client)(nil)

// Services runs image, dockerfile and static workloads as Swarm services
// (--engine swarm) with the promises of a container deploy kept through
// Swarm's own machinery: blue-green is a start-first rolling update,
// recreate a stop-first one, Swarm rolls a failed update back, and Berth
// gates every new task through its address before the proxy sends it a
// request.
type Services struct {
	API ServiceAPI
	// Wait bounds a rollout (default 10m).
	Wait time.Duration
	// Poll is how often a rollout reads the service and its tasks
	// (default 200ms).
	Poll time.Duration
}

// Service reports whether d runs as a Swarm service with this engine.
func (e *Engine) Service(w *sources.Workload) bool {
	return e.opts.Services != nil && w.Job == nil && !w.Source.Kind().Managed()
}

// serviceSpec is the service a deployment asks Swarm for: the exact
// object the policy checks and Swarm gets.
func (e *Engine) serviceSpec(d Deployment, node string) swarm.ServiceSpec {
	w := d.Workload
	labels := e.Labels(w, d.Commit)
	delete(labels, docker.LabelAgent)
	delete(labels, docker.LabelState)
	labels[docker.LabelServiceAgent] = e.agent
	grace := Grace(w)
	cs := &swarm.ContainerSpec{Image: d.Image, Env: d.Env, Labels: labels, StopGracePeriod: &grace}
	for _, name := range slices.Sorted(maps.Keys(d.Volumes)) {
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeVolume, Source: name, Target: d.Volumes[name],
			VolumeOptions: &mount.VolumeOptions{Labels: e.Labels(w, d.Commit)}})
	}
	tt := swarm.TaskSpec{ContainerSpec: cs, Placement: &swarm.Placement{Constraints: slices.Clone(w.Constraints)},
		RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: ptr(time.Second)}}
	if len(d.Volumes) > 0 && len(w.Constraints) == 0 {
		// Volumes are node-local: the tasks run where the data is.
		tt.Placement.Constraints = []string{"node.id==" + node}
	}
	if r := w.Resources; r != nil {
		tt.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: int64(r.Memory), NanoCPUs: int64(r.CPUs * 1e9), Pids: r.Pids}}
	}
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: sources.ServiceName(w), Labels: map[string]string{docker.LabelAgent: e.agent, docker.LabelWorkload: w.ID()}},
		TaskTemplate: tt,
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Delay: gateDelay(w, e.opts.LivenessWindow), FailureAction: swarm.UpdateFailureActionRollback,
			Monitor: e.opts.LivenessWindow, Order: swarm.UpdateOrderStartFirst},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 0, FailureAction: swarm.UpdateFailureActionPause,
			Monitor: time.Second, Order: swarm.UpdateOrderStartFirst},
	}
	if d.Decision.Strategy == sources.StrategyRecreate {
		spec.UpdateConfig.Order = swarm.UpdateOrderStopFirst
		spec.RollbackConfig.Order = swarm.UpdateOrderStopFirst
	}
	if w.Mode == sources.ModeGlobal {
		spec.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
	} else {
		spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: ptr(uint64(Replicas(w)))}}
	}
	if w.Port > 0 {
		// Host mode, no fixed port: each task gets an ephemeral port on
		// its node (the routing mesh does not answer on these hosts).
		p := swarm.PortConfig{Protocol: swarm.PortConfigProtocolTCP, TargetPort: uint32(w.Port), PublishMode: swarm.PortConfigPublishModeHost}
		if w.HostPort > 0 {
			p.PublishedPort = uint32(w.HostPort)
		}
		spec.EndpointSpec = &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP, Ports: []swarm.PortConfig{p}}
	}
	return spec
}

// gateDelay is the pause Swarm makes after each task it started: the time
// Berth has to gate that task before the next old one stops. A
// healthcheck answers as soon as the task is ready; without one the gate
// is the liveness window after the first answer.
func gateDelay(w *sources.Workload, window time.Duration) time.Duration {
	if w.Healthcheck != nil {
		return 2 * time.Second
	}
	return window + time.Second
}

// Replicas is how many tasks a replicated service of w runs.
func Replicas(w *sources.Workload) int { return max(w.Replicas, 1) }

// deployService brings a container workload up as its Swarm service:
// the before_deploy task on this host, the spec checked against the
// operator's policy, created or updated, then the rollout followed and
// gated until every task of the new version serves.
func (e *Engine) deployService(ctx context.Context, d Deployment) (Result, error) {
	s, w := e.opts.Services, d.Workload
	if err := s.API.SwarmManager(ctx); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrStillServing, err)
	}
	if err := e.beforeDeploy(ctx, d); err != nil {
		return Result{}, err
	}
	node, err := s.API.NodeID(ctx)
	if err != nil {
		return Result{}, err
	}
	refs, err := e.serviceSecrets(ctx, d)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrStillServing, err)
	}
	spec := e.serviceSpec(d, node)
	spec.TaskTemplate.ContainerSpec.Secrets = refs
	scope := policy.ServiceScope{Stack: sources.ContainerName(w)} // its volumes are "berth-<app>_<name>_<volume>"
	if err := policy.Refusal(e.opts.Policy.Service(spec, scope)); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrStillServing, err)
	}
	prev, exists, err := s.API.ServiceByName(ctx, spec.Name)
	if err != nil {
		return Result{}, err
	}
	since := time.Now().Add(-time.Second)
	id := prev.ID
	if exists {
		if owner := prev.Spec.Labels[docker.LabelAgent]; owner != e.agent {
			return Result{}, fmt.Errorf("%w: the Swarm service %s belongs to agent %q, not this one", ErrStillServing, spec.Name, owner)
		}
		if err := s.API.UpdateService(ctx, prev.ID, prev.Version, spec); err != nil {
			return Result{}, fmt.Errorf("%w: %w", ErrStillServing, err)
		}
	} else if id, err = s.API.CreateService(ctx, spec); err != nil {
		return Result{}, err
	}
	e.log.Info("service rolling out", "workload", w.ID(), "service", spec.Name, "order", spec.UpdateConfig.Order, "new", !exists)
	ro := &serviceRollout{e: e, d: d, id: id, name: spec.Name, node: node, fresh: !exists, since: since, gates: map[string]*taskGate{}}
	res, err := ro.follow(ctx)
	if err != nil {
		return res, err
	}
	e.pruneSecrets(ctx, w, spec, prev.Spec)
	// Containers this workload ran before it was a service (the docker
	// engine) go once the service serves.
	if err := e.removeAll(ctx, w, d.Old, grace(w), "replaced by its Swarm service"); err != nil {
		e.log.Warn("removing the containers the service replaced failed", "workload", w.ID(), "error", err)
	}
	if d.Persist != nil {
		if err := d.Persist(ctx, docker.Container{Name: spec.Name, Image: d.Image, State: "running", Addrs: ro.routed}); err != nil {
			return res, fmt.Errorf("%w: %w", ErrNotRecorded, err)
		}
	}
	return res, nil
}

// routeTasks points the workload's route at addrs, spread over all of
// them, with a refused connection retried on another.
func (e *Engine) routeTasks(ctx context.Context, w *sources.Workload, addrs []string) error {
	if w.Route == nil || e.opts.Router == nil || len(addrs) == 0 {
		return nil
	}
	rt := router.Route{ID: w.ID(), Hosts: w.Route.Hosts, Upstream: strings.Join(addrs, ","), Balanced: true}
	if err := e.opts.Router.Upsert(ctx, rt); err != nil {
		return fmt.Errorf("updating the route: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
