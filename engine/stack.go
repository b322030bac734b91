package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
)

// ErrNotRecorded: the tool brought the new version up, but the runtime
// record could not be written.
var ErrNotRecorded = errors.New("recording the deploy failed")

// Release is the last good version of a stack (compose or Swarm), for the
// revert of a failed deploy: a stack has no container to start again, so
// its kept files are brought up once more.
type Release struct {
	Workload *sources.Workload // the workload as it was then
	Commit   string
	File     string   // the kept copy of its compose file
	Env      []string // its interpolation variables
	// Unavailable says why it cannot be brought up again (its record or
	// its files are gone); nil when it can.
	Unavailable error
}

// stackTool is a tool that owns a workload's containers: docker compose
// (Compose) or Docker Swarm (Swarm).
type stackTool interface {
	name(w *sources.Workload) string
	own(ctx context.Context, e *Engine, w *sources.Workload, name string) error
	up(ctx context.Context, e *Engine, p *types.Project, labels map[string]string, recreate bool) error
	remove(ctx context.Context, name string) error
	// revertable reports whether a failed up is Berth's to revert (and not
	// already reverted or refused by the tool).
	revertable(err error) bool
}

// projectLister lists a compose project's containers (the ownership
// check) and reads back what Docker created (the policy's last word).
type projectLister interface {
	ProjectContainers(ctx context.Context, project string) ([]docker.Container, error)
	InspectCreated(ctx context.Context, id string) (container.InspectResponse, error)
}

// checkCreated holds every container Docker created for a compose
// project, before any of it starts, to the operator's policy: the
// settings as Docker will run them, whatever rendered them.
func (e *Engine) checkCreated(ctx context.Context, p *types.Project) error {
	if e.opts.Projects == nil {
		return nil
	}
	cs, err := e.opts.Projects.ProjectContainers(ctx, p.Name)
	if err != nil {
		return err
	}
	siblings := map[string]bool{}
	for _, c := range cs {
		siblings[c.ID], siblings[c.Name] = true, true
	}
	scope := policy.Scope{
		Release:   p.WorkingDir,
		OwnVolume: func(name string) bool { return strings.HasPrefix(name, p.Name+"_") },
		Sibling: func(ref string) bool {
			return siblings[ref] || len(ref) >= 12 && slices.ContainsFunc(cs, func(c docker.Container) bool { return strings.HasPrefix(c.ID, ref) })
		},
	}
	var vs []policy.Violation
	for _, c := range cs {
		info, err := e.opts.Projects.InspectCreated(ctx, c.ID)
		if err != nil {
			return err
		}
		vs = append(vs, e.opts.Policy.Container(info, scope)...)
	}
	return policy.Refusal(vs)
}

// deployStack brings a compose or Swarm workload up from the kept copy of
// its files (d.File) and waits until it runs. The tool owns the
// containers; Berth labels them (so the one snapshot finds them), checks
// the rendered project against the policy first, and records the stack
// through d.Persist (a Container named after the project). When the up
// fails, the last good release (d.Previous) is brought up again: the
// error then wraps ErrReverted, or ErrRevertFailed.
func (e *Engine) deployStack(ctx context.Context, d Deployment) (Result, error) {
	w := d.Workload
	tool, err := e.stackTool(w)
	if err != nil {
		return Result{}, err
	}
	name := tool.name(w)
	if err := tool.own(ctx, e, w, name); err != nil {
		return Result{}, err
	}
	p, err := e.render(ctx, name, d.File, d.Env)
	if err != nil {
		return Result{}, err
	}
	useGenerations(p, d.VolumeNames)
	if err := e.composeBeforeDeploy(ctx, d, p); err != nil {
		return Result{}, err
	}
	recreate := d.Decision.Strategy == sources.StrategyRecreate || d.Recreate
	if err := tool.up(ctx, e, p, e.Labels(w, d.Commit), recreate); err != nil {
		if tool.revertable(err) {
			err = e.revertStack(ctx, d, tool, name, err)
		}
		return Result{}, err
	}
	res := Result{Started: e.now(), Container: docker.Container{Name: name}}
	if err := d.Persist(ctx, res.Container); err != nil {
		return res, fmt.Errorf("%w: %w", ErrNotRecorded, err)
	}
	if d.Replaced != "" && d.Replaced != name {
		// The project was renamed (source.project, or names that became
		// injective): the old one's containers go.
		if err := tool.remove(ctx, d.Replaced); err != nil {
			e.log.Warn("removing the previous project failed", "workload", w.ID(), "project", d.Replaced, "error", err)
		}
	}
	return res, nil
}

// stackTools are the tools of the managed kinds that are configured.
func stackTools(opts Options) map[sources.Kind]stackTool {
	tools := map[sources.Kind]stackTool{}
	if opts.Compose != nil {
		tools[sources.KindCompose] = opts.Compose
		if opts.Swarm != nil {
			tools[sources.KindStack] = opts.Swarm
		}
	}
	return tools
}

// stackTool is the tool of a managed workload's kind.
func (e *Engine) stackTool(w *sources.Workload) (stackTool, error) {
	if tool, ok := e.stacks[w.Source.Kind()]; ok {
		return tool, nil
	}
	if w.Source.Kind() == sources.KindStack {
		return nil, errors.New("stacks are not configured (they need the docker CLI and its compose plugin)")
	}
	return nil, errors.New("compose is not configured")
}

// render loads a stack's file from its release (the kept copy of its
// folder) in process, with vars as its only variables, and holds the
// result to the operator's policy: the project that passes is the one
// applied, unchanged.
func (e *Engine) render(ctx context.Context, name, file string, vars []string) (*types.Project, error) {
	p, vs, err := Verdict(ctx, e.opts.Policy, name, file, envMap(vars))
	if err != nil {
		return nil, err
	}
	if err := policy.Refusal(vs); err != nil {
		return nil, err
	}
	return p, nil
}

// Verdict is the agent's judgement of a stack before anything is
// created: the project rendered in process from file (in its release
// folder) with vars as its only variables, and what pol refuses in it.
// An error means the file does not render.
func Verdict(ctx context.Context, pol policy.Policy, name, file string, vars map[string]string) (*types.Project, []policy.Violation, error) {
	release := filepath.Dir(file)
	p, err := compose.Render(ctx, release, filepath.Base(file), name, vars)
	if err != nil {
		return nil, nil, err
	}
	return p, pol.Project(p, release), nil
}

// useGenerations points the checked project's own volumes at the
// generations restores put in their place (Docker cannot rename a
// volume): Berth's decision about Berth's volumes, made after the check.
func useGenerations(p *types.Project, gens map[string]string) {
	for k, v := range p.Volumes {
		if cur, ok := gens[v.Name]; ok && cur != v.Name && !bool(v.External) {
			v.Name, v.External = cur, true
			p.Volumes[k] = v
		}
	}
}

// envMap is KEY=value pairs as a map (the last of a key wins).
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

var (
	_ stackTool = (*Compose)(nil)
	_ stackTool = (*Swarm)(nil)
)

func (s *Compose) name(w *sources.Workload) string {
	c, _ := w.Source.(*compose.Config)
	return compose.ProjectName(w, c)
}

// own refuses a compose project that has containers Berth did not make
// for this workload: a commit must not take over (and then remove)
// someone else's stack by naming its project.
func (s *Compose) own(ctx context.Context, e *Engine, w *sources.Workload, project string) error {
	if e.opts.Projects == nil {
		return nil
	}
	cs, err := e.opts.Projects.ProjectContainers(ctx, project)
	if err != nil {
		return err
	}
	for _, c := range cs {
		mine := c.Labels[docker.LabelAgent] == e.agent && c.Workload() == w.ID() &&
			(e.opts.StateID == "" || c.Labels[docker.LabelState] == "" || c.Labels[docker.LabelState] == e.opts.StateID)
		if !mine {
			return fmt.Errorf("compose project %q has containers Berth does not own (%s): choose another source.project", project, c.Name)
		}
	}
	return nil
}

func (s *Compose) up(ctx context.Context, e *Engine, p *types.Project, labels map[string]string, recreate bool) error {
	return s.Up(ctx, p, labels, recreate, func(ctx context.Context) error { return e.checkCreated(ctx, p) })
}

func (s *Compose) remove(ctx context.Context, project string) error { return s.Down(ctx, project) }

func (s *Compose) revertable(error) bool { return true }

func (s *Swarm) name(w *sources.Workload) string {
	c, _ := w.Source.(*compose.SwarmConfig)
	return compose.StackName(w, c)
}

// own is part of Deploy, which reads the stack's services anyway.
func (s *Swarm) own(context.Context, *Engine, *sources.Workload, string) error { return nil }

func (s *Swarm) up(ctx context.Context, e *Engine, p *types.Project, labels map[string]string, _ bool) error {
	return s.Deploy(ctx, p.Name, p, labels, e.opts.Policy)
}

func (s *Swarm) remove(ctx context.Context, stack string) error { return s.Remove(ctx, stack) }

// revertable: Swarm rolled it back itself, the host is no manager, or the
// stack was refused before anything changed; otherwise it never
// converged and Berth deploys the last good copy again.
func (s *Swarm) revertable(err error) bool {
	return !errors.Is(err, ErrReverted) && !errors.Is(err, docker.ErrNotSwarmManager) && !errors.Is(err, ErrStillServing)
}

// composeBeforeDeploy runs a compose workload's before_deploy task as its
// service, in the new (checked) project, before the up touches what runs.
// A failure wraps ErrStillServing and ErrTaskFailed.
func (e *Engine) composeBeforeDeploy(ctx context.Context, d Deployment, p *types.Project) error {
	t := d.Workload.BeforeDeploy
	if t == nil || d.SkipBeforeDeploy || e.opts.Compose == nil || d.Workload.Source.Kind() != sources.KindCompose {
		return nil
	}
	service, err := compose.TaskService(p, t.Service)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStillServing, &TaskError{Err: err})
	}
	res, err := e.opts.Compose.RunTask(ctx, p, e.Labels(d.Workload, d.Commit), service, t.Command, t.TaskTimeout())
	if res.TimedOut {
		e.removeTaskContainers(context.WithoutCancel(ctx), p.Name, grace(d.Workload))
	}
	if d.TaskDone != nil {
		d.TaskDone(res, err)
	}
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrStillServing, &TaskError{Err: err})
	case res.TimedOut || res.ExitCode != 0:
		return fmt.Errorf("%w: %w", ErrStillServing, &TaskError{Result: res})
	}
	return nil
}

// removeTaskContainers stops and removes a project's task containers (a
// run its CLI was killed at the timeout left behind).
func (e *Engine) removeTaskContainers(ctx context.Context, project string, grace time.Duration) {
	if e.opts.Projects == nil {
		return
	}
	cs, err := e.opts.Projects.ProjectContainers(ctx, project)
	if err != nil {
		return
	}
	for _, c := range cs {
		if c.Labels[docker.LabelTask] != "" {
			if err := e.runner.Remove(ctx, c.ID, grace); err != nil {
				e.log.Warn("removing a timed-out task failed", "project", project, "container", c.Name, "error", err)
			}
		}
	}
}
