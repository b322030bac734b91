package sources

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// DefaultStopGrace is how long a container gets between SIGTERM and SIGKILL
// when the workload sets no stop_grace_period.
const DefaultStopGrace = 10 * time.Second

// containerRunner is what the deploy engines need from Docker.
type containerRunner interface {
	Run(ctx context.Context, spec RunSpec) (Container, error)
	Remove(ctx context.Context, id string, grace time.Duration) error
}

// Engine runs a prepared image as a workload's container, replacing the
// containers that ran before with the workload's strategy.
type Engine struct {
	docker containerRunner
	agent  string
	log    *slog.Logger
}

// NewEngine returns an engine that labels containers as owned by agent.
func NewEngine(docker containerRunner, agent string, log *slog.Logger) *Engine {
	return &Engine{docker: docker, agent: agent, log: log}
}

// Deployment is one deploy of one workload.
type Deployment struct {
	Workload *Workload
	Image    string   // the prepared image reference
	Env      []string // the resolved container env, KEY=value
	Commit   string
	// Old are the workload's containers before the deploy (from the tick's
	// snapshot): the ones the new container replaces.
	Old []Container
}

// Result is a successful deploy.
type Result struct {
	Container Container
	Decision  Decision
}

// ContainerName is a workload's container name when only one copy runs.
func ContainerName(w *Workload) string { return "berth-" + w.App + "-" + w.Name }

// Labels are the labels of a workload's container.
func (e *Engine) Labels(w *Workload, commit string) map[string]string {
	return map[string]string{
		LabelAgent:    e.agent,
		LabelWorkload: w.ID(),
		LabelHash:     w.Hash,
		LabelCommit:   commit,
	}
}

// Recreate stops and removes the old containers, then creates and starts
// the new one. The image must already be prepared, so the old container
// serves while it downloads or builds; the downtime is stop → start.
func (e *Engine) Recreate(ctx context.Context, d Deployment) (Container, error) {
	w := d.Workload
	log := e.log.With("workload", w.ID())
	if err := e.removeAll(ctx, d.Old, grace(w)); err != nil {
		return Container{}, err
	}
	c, err := e.docker.Run(ctx, RunSpec{
		Name:   ContainerName(w),
		Image:  d.Image,
		Env:    d.Env,
		Labels: e.Labels(w, d.Commit),
		Port:   w.Port,
	})
	if err != nil {
		return Container{}, err
	}
	log.Debug("container started", "container", c.Name, "id", short(c.ID), "host_port", c.HostPort)
	return c, nil
}

// removeAll stops and removes containers, oldest name first.
func (e *Engine) removeAll(ctx context.Context, cs []Container, grace time.Duration) error {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, c := range cs {
		if err := e.docker.Remove(ctx, c.ID, grace); err != nil {
			return fmt.Errorf("removing old container %s: %w", c.Name, err)
		}
	}
	return nil
}

func grace(w *Workload) time.Duration {
	if w.StopGracePeriod > 0 {
		return w.StopGracePeriod.Std()
	}
	return DefaultStopGrace
}

// EnvList turns an env map into KEY=value entries sorted by key, so the
// same map always gives the same container config.
func EnvList(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
