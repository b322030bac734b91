package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// Timing is how one deploy went, for benchmarks and logs.
type Timing struct {
	Strategy sources.Strategy
	Started  time.Time // the new container started
	Ready    time.Time // it passed the gate
	Swapped  time.Time // the route points at it
}

// deploy runs one workload's deploy with its effective strategy and
// records the outcome: events through EmitDeployEvent and its runtime row.
// old are the workload's containers from the snapshot.
func (a *Agent) deploy(ctx context.Context, commit string, w *sources.Workload, old []sources.Container, row store.Runtime, hasRow bool) (Timing, error) {
	log := a.log.With("workload", w.ID())
	decision := sources.Decide(w)
	info := DeployInfo{Workload: w, Decision: decision, Commit: commit}
	if !hasRow {
		row = store.Runtime{WorkloadID: w.ID()}
	}
	a.events.EmitDeployEvent(ctx, PhaseStarted, info)
	a.statuses.set(ctx, commit, w.ID(), gitops.StatePending, "deploying via "+decision.String())
	log.Info("deploying", "strategy", decision.String(), "commit", shortSHA(commit))
	start := time.Now()
	if reason := a.secretFail[w.ID()]; reason != "" {
		return Timing{}, a.failed(ctx, row, info, "shared secrets", errors.New(reason), sources.Container{})
	}
	if c, ok := w.Source.(*compose.Config); ok {
		return Timing{Strategy: decision.Strategy}, a.deployStack(ctx, commit, w, c, row, info, start)
	}

	prep, err := a.prepare(ctx, w)
	if err != nil {
		return Timing{}, a.failed(ctx, row, info, "preparing the image", err, sources.Container{})
	}
	ref := prep.image
	info.Image = ref
	env, err := a.env(ctx, w, ref)
	if err != nil {
		return Timing{}, a.failed(ctx, row, info, "reading the image's env", err, sources.Container{})
	}
	applied := row
	dep := sources.Deployment{
		Workload: w, Decision: decision, Image: ref, Env: env, Volumes: prep.volumes, Commit: commit, Old: old,
		Persist: func(ctx context.Context, c sources.Container) error {
			applied = row
			setContainer(&applied, c)
			applied.Kind = string(w.Source.Kind())
			applied.Image, applied.AppliedHash, applied.Commit = ref, w.Hash, commit
			applied.Strategy = decision.String()
			applied.LastDeploy, applied.Message = store.DeploySucceeded, ""
			return a.store.PutRuntime(ctx, applied)
		},
	}
	res, err := a.engine.Deploy(ctx, dep)
	t := Timing{Strategy: decision.Strategy, Started: res.Started, Ready: res.Ready, Swapped: res.Swapped}
	if err != nil {
		stage := "starting the new container"
		if errors.Is(err, sources.ErrNotReady) {
			stage = "readiness gate"
		}
		if errors.Is(err, sources.ErrBlueServing) {
			stage += " (the running version is still serving)"
		}
		return t, a.failed(ctx, row, info, stage, err, res.Container)
	}
	a.events.EmitDeployEvent(ctx, PhaseSucceeded, info)
	a.statuses.set(ctx, commit, w.ID(), gitops.StateSuccess, "deployed via "+decision.String())
	log.Info("deployed", "container", res.Container.Name, "upstream", sources.Upstream(res.Container), "took", time.Since(start).Round(time.Millisecond))
	return t, nil
}

// deployStack brings a compose workload's stack up. The stack tool owns
// its containers; Berth labels them (so the one snapshot finds them) and
// records the stack in the runtime row.
func (a *Agent) deployStack(ctx context.Context, commit string, w *sources.Workload, c *compose.Config, row store.Runtime, info DeployInfo, start time.Time) error {
	if a.opts.Compose == nil {
		return a.failed(ctx, row, info, "docker compose", errors.New("compose is not configured"), sources.Container{})
	}
	file := a.repoPath(w.Files["source.file"])
	recreate := info.Decision.Strategy == sources.StrategyRecreate
	vars := secrets.Env(a.layers[w.ID()], nil, w.Env)
	if err := a.opts.Compose.Up(ctx, w, c, file, a.engine.Labels(w, commit), vars, recreate); err != nil {
		return a.failed(ctx, row, info, "docker compose", err, sources.Container{})
	}
	row.Kind = string(sources.KindCompose)
	row.ContainerID, row.ContainerName, row.Upstream, row.Image = "", compose.ProjectName(w, c), "", ""
	row.AppliedHash, row.Commit, row.Strategy = w.Hash, commit, info.Decision.String()
	row.Status, row.LastDeploy, row.Message = store.StatusRunning, store.DeploySucceeded, ""
	row.UpdatedAt = time.Time{}
	if err := a.store.PutRuntime(ctx, row); err != nil {
		a.log.Error("recording the deploy failed", "workload", w.ID(), "error", err)
	}
	a.events.EmitDeployEvent(ctx, PhaseSucceeded, info)
	a.statuses.set(ctx, commit, w.ID(), gitops.StateSuccess, "deployed via "+info.Decision.String())
	a.log.Info("deployed", "workload", w.ID(), "project", row.ContainerName, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// env is the container env: shared secrets below the image's own ENV,
// the workload env on top. Without shared secrets it is the workload env.
func (a *Agent) env(ctx context.Context, w *sources.Workload, ref string) ([]string, error) {
	layer := a.layers[w.ID()]
	if len(layer) == 0 {
		return secrets.Env(nil, nil, w.Env), nil
	}
	imageEnv, err := a.docker.ImageEnv(ctx, ref)
	if err != nil {
		return nil, err
	}
	return secrets.Env(layer, imageEnv, w.Env), nil
}

func setContainer(row *store.Runtime, c sources.Container) {
	row.ContainerID, row.ContainerName = c.ID, c.Name
	row.Upstream = sources.Upstream(c)
	row.Status = c.State
	row.UpdatedAt = time.Time{}
}

// failed records a failed deploy. The row keeps pointing at whatever ran
// before, or at the new container when one was left running (recreate);
// the event and the row carry a short reason, the full error goes to the
// log.
func (a *Agent) failed(ctx context.Context, row store.Runtime, info DeployInfo, stage string, err error, left sources.Container) error {
	id := info.Workload.ID()
	var te *sources.ToolError
	if errors.As(err, &te) {
		// Tool output can echo secrets and events leave the host: the
		// event and the row get a generic reason, the output stays in the
		// returned error and the debug log.
		info.Reason = stage + ": " + te.Reason()
		err = errors.New(a.opts.Redactor.Redact(err.Error()))
		a.log.Error("deploy failed", "workload", id, "stage", stage, "reason", te.Reason())
		a.log.Debug("deploy failure output", "workload", id, "error", err)
	} else {
		info.Reason = a.opts.Redactor.Redact(stage + ": " + firstLine(err.Error()))
		err = errors.New(a.opts.Redactor.Redact(err.Error()))
		a.log.Error("deploy failed", "workload", id, "stage", stage, "error", err)
	}
	if left.ID != "" {
		setContainer(&row, left)
	}
	if row.ContainerID == "" {
		row.Status = store.StatusFailed
	}
	again := row.LastDeploy == store.DeployFailed && row.Message == store.Truncate(info.Reason, store.MaxMessageRunes)
	row.LastDeploy, row.Message = store.DeployFailed, info.Reason
	if row.Strategy == "" {
		row.Strategy = info.Decision.String()
	}
	if !again {
		row.UpdatedAt = time.Time{} // a retry failing the same way is not news
	}
	if perr := a.store.PutRuntime(ctx, row); perr != nil {
		a.log.Error("recording the failed deploy failed", "workload", id, "error", perr)
	}
	a.events.EmitDeployEvent(ctx, PhaseFailed, info)
	a.statuses.set(ctx, info.Commit, id, gitops.StateFailure, info.Reason)
	return fmt.Errorf("deploying %s: %s: %w", id, stage, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
