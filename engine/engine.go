// Package engine is the deploy engine: it replaces a workload's running
// version with a new one as one transaction — the strategy's steps
// (recreate.go, bluegreen.go), the readiness gate (gate.go, probe.go), and
// the revert of a failed deploy — and reports what serves afterwards.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
	"github.com/docker/docker/api/types/container"
)

// Engine defaults.
const (
	// DefaultStopGrace is how long a container gets between SIGTERM and
	// SIGKILL when the workload sets no stop_grace_period.
	DefaultStopGrace = 10 * time.Second
	// DefaultDrain is how long blue keeps its connections after the route
	// moved to green, before it is stopped.
	DefaultDrain = 2 * time.Second
)

// ContainerRunner is what the deploy engines need from Docker.
type ContainerRunner interface {
	Create(ctx context.Context, spec docker.RunSpec) (string, error)
	Start(ctx context.Context, id string, port int) (docker.Container, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string, grace time.Duration) error
	Rename(ctx context.Context, id, name string) error
	Inspect(ctx context.Context, id string, port int) (docker.Container, error)
	Restart(ctx context.Context, id string, port int) (docker.Container, error)
}

// routeSetter points a workload's hosts at an upstream.
type routeSetter interface {
	Upsert(ctx context.Context, r router.Route) error
}

// Options are the engine's optional settings.
type Options struct {
	// Router receives route swaps; nil when no proxy is managed.
	Router routeSetter
	// LivenessWindow gates a container without a healthcheck (default 5s).
	LivenessWindow time.Duration
	// Drain is the pause between the route swap and stopping blue
	// (default 2s; negative for none).
	Drain time.Duration
	// Failpoint, when set, is called at each Step of a deploy. Crash tests
	// pass a hook that ends the process at a chosen step.
	Failpoint func(fault.Step)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Keep, when set, is told of each container the engine is about to
	// remove after it ran — a new version that failed, an old one a
	// deploy replaced — while its output can still be read.
	Keep func(ctx context.Context, w *sources.Workload, c docker.Container, reason string)
	// StateID labels containers with the agent's state dir (docker.LabelState).
	StateID string
	// Compose and Swarm bring compose and Swarm workloads up; nil makes
	// such a deploy fail with a clear error.
	Compose *Compose
	Swarm   *Swarm
	// Services, when set (--engine swarm), runs image, dockerfile and
	// static workloads as Swarm services instead of containers.
	Services *Services
	// Projects lists a compose project's containers, to refuse a project
	// Berth does not own.
	Projects projectLister
	// Policy is what a commit may ask of the host (--allow).
	Policy policy.Policy
}

// Engine deploys workloads: a prepared image as the workload's container,
// replacing the containers that ran before with the workload's strategy,
// or a compose or Swarm project through its tool.
type Engine struct {
	runner ContainerRunner
	agent  string
	log    *slog.Logger
	opts   Options
	stacks map[sources.Kind]stackTool // compose and Swarm, when configured
}

// New returns an engine that labels containers as owned by agent.
func New(runner ContainerRunner, agent string, log *slog.Logger, opts Options) *Engine {
	if opts.LivenessWindow <= 0 {
		opts.LivenessWindow = DefaultLivenessWindow
	}
	if opts.Drain < 0 {
		opts.Drain = 0
	} else if opts.Drain == 0 {
		opts.Drain = DefaultDrain
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Engine{runner: runner, agent: agent, log: log, opts: opts, stacks: stackTools(opts)}
}

func (e *Engine) now() time.Time { return e.opts.Now() }

var _ ContainerRunner = (*docker.Client)(nil)

// Deployment is one deploy of one workload.
type Deployment struct {
	Workload *sources.Workload
	Decision sources.Decision
	Image    string   // the prepared image reference
	Env      []string // the resolved container env, KEY=value
	// Files, under --engine swarm, are shared secrets delivered as Swarm
	// secrets (SecretDir/<KEY>) instead of env: name → value.
	Files   map[string]string
	Volumes map[string]string // named volumes: name → path in the container
	// VolumeNames, for a compose project, maps a project volume's Docker
	// name to the generation a restore put in its place.
	VolumeNames map[string]string
	// Recreate makes a compose up recreate every container (a restore:
	// compose does not see a volume's new name as a change).
	Recreate bool
	Commit   string
	// Old are the workload's containers before the deploy (from the tick's
	// snapshot): the ones the new container replaces.
	Old []docker.Container
	// Current is the one of Old that serves (the runtime row's), nil when
	// none does: a failed recreate restores it, a blue-green that cannot
	// record green routes back to it.
	Current *docker.Container
	// SkipBeforeDeploy: the before_deploy task already succeeded for this
	// desired version (a retry after a later step failed).
	SkipBeforeDeploy bool
	// TaskDone, when set, is told how the before_deploy task ended.
	TaskDone func(res docker.TaskResult, err error)
	// CurrentWorkload is the workload as Current's release had it: a
	// failed recreate routes back to Current the moment it answers its own
	// readiness check, not the new version's. nil: any answer below 500.
	CurrentWorkload *sources.Workload
	// Persist records the new container as the workload's serving one. It
	// runs after the route swap and before any old container is reaped, so
	// a crash at any step leaves the record naming a container that exists.
	Persist func(ctx context.Context, c docker.Container) error

	// For a compose or Swarm workload, whose tool owns the containers:
	// File is the kept copy of its compose file, Env its interpolation
	// variables, Previous its last good release (nil when none ran
	// before), and Replaced the project or stack that ran before when its
	// name changed. Persist is called with a Container named after the
	// project.
	File     string
	Previous *Release
	Replaced string
}

// Result is what a deploy did.
type Result struct {
	Container docker.Container // the new container, serving (on success)
	Started   time.Time        // the new container started
	Ready     time.Time        // it passed the gate
	Gate      string           // how the gate decided: "GET / answered 200 OK after 7.1s, then stayed up 5s"
	Swapped   time.Time        // the route points at it
	// Reverted is set when a failed recreate started the previous
	// container again; RevertedTo is that container, running again.
	Reverted   bool
	RevertedTo docker.Container
	// FailedAt is when the failure was seen; RevertedAt when the previous
	// container was routed to again.
	FailedAt, RevertedAt time.Time
}

// Upstream is the address the proxy and the probe reach a container at.
func Upstream(c docker.Container) string {
	if c.Addrs != "" {
		return c.Addrs
	}
	if c.HostPort == 0 {
		return ""
	}
	return fmt.Sprintf("127.0.0.1:%d", c.HostPort)
}

// Labels are the labels of a workload's container.
func (e *Engine) Labels(w *sources.Workload, commit string) map[string]string {
	labels := map[string]string{
		docker.LabelAgent:    e.agent,
		docker.LabelWorkload: w.ID(),
		docker.LabelHash:     w.Hash,
		docker.LabelCommit:   commit,
	}
	if e.opts.StateID != "" {
		labels[docker.LabelState] = e.opts.StateID
	}
	return labels
}

// Deploy replaces the workload's running version with d: one container
// running d.Image, with d.Decision's strategy, or a compose or Swarm
// project brought up by its tool.
func (e *Engine) Deploy(ctx context.Context, d Deployment) (Result, error) {
	if d.Workload.Source.Kind().Managed() {
		return e.deployStack(ctx, d)
	}
	if e.Service(d.Workload) {
		return e.deployService(ctx, d)
	}
	if d.Decision.Strategy == sources.StrategyBlueGreen {
		return e.blueGreen(ctx, d)
	}
	return e.recreate(ctx, d)
}

func (e *Engine) spec(d Deployment, name string) docker.RunSpec {
	w := d.Workload
	s := docker.RunSpec{
		Name:     name,
		Image:    d.Image,
		Env:      d.Env,
		Labels:   e.Labels(w, d.Commit),
		Port:     w.Port,
		HostPort: w.HostPort,
		Volumes:  d.Volumes,
		Network:  w.Network(),
	}
	if r := w.Resources; r != nil {
		s.Memory, s.NanoCPUs, s.PidsLimit = int64(r.Memory), int64(r.CPUs*1e9), r.Pids
	}
	return s
}

func (e *Engine) run(ctx context.Context, d Deployment, name string) (docker.Container, error) {
	w := d.Workload
	id, err := e.create(ctx, e.spec(d, name))
	if err != nil {
		return docker.Container{}, err
	}
	c, err := e.runner.Start(ctx, id, w.Port)
	if err != nil {
		return docker.Container{}, err
	}
	e.log.Debug("container started", "workload", w.ID(), "container", c.Name, "id", docker.ShortID(c.ID), "host_port", c.HostPort)
	return c, nil
}

// route points the workload's hosts at c; without a route block or a
// router there is nothing to do.
func (e *Engine) route(ctx context.Context, w *sources.Workload, c docker.Container) error {
	if w.Route == nil || e.opts.Router == nil {
		return nil
	}
	if err := e.opts.Router.Upsert(ctx, router.Route{ID: w.ID(), Hosts: w.Route.Hosts, Upstream: Upstream(c)}); err != nil {
		return fmt.Errorf("updating the route: %w", err)
	}
	return nil
}

// removeAll stops and removes containers, by name; the output of each is
// kept first (Keep), its last lines included.
func (e *Engine) removeAll(ctx context.Context, w *sources.Workload, cs []docker.Container, grace time.Duration, reason string) error {
	for _, c := range sortedByName(cs) {
		if e.opts.Keep != nil {
			if err := e.runner.Stop(ctx, c.ID, grace); err == nil {
				e.opts.Keep(ctx, w, c, reason)
				grace = 0
			}
		}
		if err := e.runner.Remove(ctx, c.ID, grace); err != nil {
			return fmt.Errorf("removing old container %s: %w", c.Name, err)
		}
	}
	return nil
}

// keep hands a container that ran to Keep before it is removed.
func (e *Engine) keep(ctx context.Context, w *sources.Workload, c docker.Container, reason string) {
	if e.opts.Keep != nil && c.ID != "" {
		e.opts.Keep(ctx, w, c, reason)
	}
}

func sortedByName(cs []docker.Container) []docker.Container {
	out := append([]docker.Container(nil), cs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func grace(w *sources.Workload) time.Duration { return Grace(w) }

// Grace is how long a stopping container of w gets between SIGTERM and
// SIGKILL.
func Grace(w *sources.Workload) time.Duration {
	if w.StopGracePeriod > 0 {
		return w.StopGracePeriod.Std()
	}
	return DefaultStopGrace
}

// createdInspector reads back what Docker created (the real adapter does;
// a runner without it is not checked).
type createdInspector interface {
	InspectCreated(ctx context.Context, id string) (container.InspectResponse, error)
}

// create creates a container and, before it can start, holds it as
// Docker created it to the operator's policy (the same check as every
// compose container's): a refused one is removed again.
func (e *Engine) create(ctx context.Context, spec docker.RunSpec) (string, error) {
	id, err := e.runner.Create(ctx, spec)
	if err != nil {
		return "", err
	}
	ci, ok := e.runner.(createdInspector)
	if !ok {
		return id, nil
	}
	info, err := ci.InspectCreated(ctx, id)
	if err == nil {
		own := map[string]bool{}
		for name := range spec.Volumes {
			own[name] = true
		}
		for _, m := range spec.Carry {
			own[m.Name] = true
		}
		err = policy.Refusal(e.opts.Policy.Container(info, policy.Scope{OwnVolume: func(name string) bool { return own[name] }}))
	}
	if err != nil {
		if rmErr := e.runner.Remove(context.WithoutCancel(ctx), id, 0); rmErr != nil {
			e.log.Warn("removing a refused container failed", "container", spec.Name, "error", rmErr)
		}
		return "", err
	}
	return id, nil
}

// short is a commit's first seven characters.
func short(sha string) string { return sha[:min(len(sha), 7)] }
