package agent

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// act deploys the plan's workloads, Parallel at once, and returns one
// outcome each, sorted by workload id.
func (a *Agent) act(ctx context.Context, commit string, ds []deployment) []Outcome {
	out := make([]Outcome, len(ds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, a.opts.Parallel)
	for i, d := range ds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = a.deployOne(ctx, commit, d)
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Workload.ID() < out[j].Workload.ID() })
	return out
}

// deployOne runs one deploy and hands its outcome to the reporter.
func (a *Agent) deployOne(ctx context.Context, commit string, d deployment) Outcome {
	dec := sources.Decide(d.w)
	a.report.deployStarted(ctx, commit, d, dec)
	start := time.Now()
	o := a.deploy(ctx, commit, d, dec)
	o.Took = time.Since(start)
	if o.Result == Failed {
		a.recordFailure(ctx, d, o)
	}
	a.report.deployFinished(ctx, o)
	return o
}

// deploy deploys one workload with its effective strategy. The serving
// record is written by the deploy itself (for blue-green, before blue is
// reaped); everything else about the outcome is the reporter's.
func (a *Agent) deploy(ctx context.Context, commit string, d deployment, dec sources.Decision) Outcome {
	o := Outcome{Workload: d.w, Commit: commit, Decision: dec, Why: d.why}
	if reason := a.secrets.failure(d.w.ID()); reason != "" {
		return a.fail(o, StageSecrets, errors.New(reason))
	}
	switch src := d.w.Source.(type) {
	case *compose.Config:
		return a.deployStack(ctx, o, d, src)
	case sources.ImageSource:
		return a.deployContainer(ctx, o, d, src)
	}
	return a.fail(o, StagePrepare, errors.New("this source kind cannot be deployed"))
}

// deployContainer prepares the image, resolves the env and lets the
// engine replace the old containers.
func (a *Agent) deployContainer(ctx context.Context, o Outcome, d deployment, src sources.ImageSource) Outcome {
	w := d.w
	app, err := a.apps.checkout(w)
	if err != nil {
		return a.fail(o, StageAppRepo, err)
	}
	prep, err := src.Prepare(ctx, sources.PrepareEnv{
		Docker: a.docker, Root: a.configRoot(), App: app, StaticServer: a.opts.StaticServer, Log: a.log.With("workload", w.ID()),
	}, w)
	if err != nil {
		return a.fail(o, StagePrepare, err)
	}
	o.Image = prep.Image
	img, _, err := a.docker.InspectImage(ctx, prep.Image)
	if err != nil {
		return a.fail(o, StageEnv, err)
	}
	row := a.baseRow(d)
	dep := sources.Deployment{
		Workload: w, Decision: o.Decision, Image: prep.Image, Env: a.secrets.env(w, img.Env), Volumes: prep.Volumes,
		Commit: o.Commit, Old: d.old,
		Persist: func(ctx context.Context, c sources.Container) error {
			applied := row
			setContainer(&applied, c)
			applied.Image, applied.ImageDigest = prep.Image, firstNonEmpty(img.Digest, img.ID)
			a.applied(&applied, o)
			return a.store.PutRuntime(ctx, applied)
		},
	}
	res, err := a.engine.Deploy(ctx, dep)
	o.Timing = Timing{Strategy: o.Decision.Strategy, Started: res.Started, Ready: res.Ready, Swapped: res.Swapped}
	if err != nil {
		stage := StageStart
		if errors.Is(err, sources.ErrNotReady) {
			stage = StageGate
		}
		o = a.fail(o, stage, err)
		o.left = res.Container
		return o
	}
	return o
}

// deployStack brings a compose workload's stack up. The stack tool owns
// its containers; Berth labels them (so the one snapshot finds them) and
// records the stack in the runtime row.
func (a *Agent) deployStack(ctx context.Context, o Outcome, d deployment, c *compose.Config) Outcome {
	w := d.w
	if a.opts.Compose == nil {
		return a.fail(o, StageCompose, errors.New("compose is not configured"))
	}
	file := filepath.Join(a.configRoot(), filepath.FromSlash(c.ResolvedFile()))
	recreate := o.Decision.Strategy == sources.StrategyRecreate
	vars := a.secrets.env(w, nil)
	if err := a.opts.Compose.Up(ctx, w, c, file, a.engine.Labels(w, o.Commit), vars, recreate); err != nil {
		return a.fail(o, StageCompose, err)
	}
	row := a.baseRow(d)
	row.ContainerID, row.ContainerName, row.Upstream, row.Image = "", compose.ProjectName(w, c), "", ""
	row.Status = store.StatusRunning
	a.applied(&row, o)
	if err := a.store.PutRuntime(ctx, row); err != nil {
		return a.fail(o, StageRecorded, err)
	}
	return o
}

func (a *Agent) baseRow(d deployment) store.Runtime {
	if d.hasRow {
		return d.row
	}
	return store.Runtime{WorkloadID: d.w.ID()}
}

// applied marks a row as serving the outcome's desired state.
func (a *Agent) applied(row *store.Runtime, o Outcome) {
	row.Kind = string(o.Workload.Source.Kind())
	row.AppliedHash, row.Commit, row.Strategy = o.Workload.Hash, o.Commit, o.Decision.String()
	row.AppliedSpec = gitops.Fields(o.Workload, true)
	row.LastDeploy, row.Message = store.DeploySucceeded, ""
	row.UpdatedAt = time.Time{}
}

func setContainer(row *store.Runtime, c sources.Container) {
	row.ContainerID, row.ContainerName = c.ID, c.Name
	row.Upstream = sources.Upstream(c)
	row.Status = c.State
	row.UpdatedAt = time.Time{}
}

// fail turns an error into a failed outcome. Tool output can echo secrets
// and events leave the host: the reason is generic for tool errors and
// redacted always; the full error stays in Err for the log.
func (a *Agent) fail(o Outcome, stage Stage, err error) Outcome {
	o.Result, o.Stage = Failed, stage
	o.BlueServing = errors.Is(err, sources.ErrBlueServing)
	where := string(stage)
	if o.BlueServing {
		where += " (the running version is still serving)"
	}
	var te *sources.ToolError
	if errors.As(err, &te) {
		o.Reason = where + ": " + te.Reason()
	} else {
		o.Reason = a.opts.Redactor.Redact(where + ": " + firstLine(err.Error()))
	}
	o.Err = errors.New(a.opts.Redactor.Redact(err.Error()))
	return o
}

// recordFailure writes a failed deploy into the row. The row keeps
// pointing at whatever ran before, or at the new container when one was
// left running (recreate). A retry failing the same way keeps its time.
func (a *Agent) recordFailure(ctx context.Context, d deployment, o Outcome) {
	row := a.baseRow(d)
	if o.left.ID != "" {
		setContainer(&row, o.left)
	}
	if row.ContainerID == "" {
		row.Status = store.StatusFailed
	}
	again := row.LastDeploy == store.DeployFailed && row.Message == store.Truncate(o.Reason, store.MaxMessageRunes)
	row.LastDeploy, row.Message = store.DeployFailed, o.Reason
	if row.Strategy == "" {
		row.Strategy = o.Decision.String()
	}
	if !again {
		row.UpdatedAt = time.Time{}
	}
	if err := a.store.PutRuntime(ctx, row); err != nil {
		a.log.Error("recording the failed deploy failed", "workload", d.w.ID(), "error", err)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
