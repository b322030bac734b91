package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// StageSwarm is a stack workload's `docker stack deploy` and rollout.
const StageSwarm Stage = "docker stack deploy"

// deployStack hands a compose or Swarm workload to the engine: the kept
// copy of its files, its variables, and its last good release for the
// engine's revert. The row names the project; a new release keeps its
// spec.
func (a *Agent) deployStack(ctx context.Context, o Outcome, d deployment) Outcome {
	w := d.w
	stage := StageCompose
	if w.Source.Kind() == sources.KindStack {
		stage = StageSwarm
	}
	if a.opts.Compose == nil {
		return a.fail(o, d, stage, errors.New("compose is not configured"))
	}
	name, file, base := stackFile(w)
	kept, err := a.stackFileOf(d, file, name, base)
	if err != nil {
		return a.fail(o, d, stage, err)
	}
	dep := engine.Deployment{
		Workload: w, Decision: o.Decision, Env: a.secrets.env(w, nil), Commit: o.Commit,
		File: kept, Previous: a.previousStack(ctx, d, name, base),
		VolumeNames: a.volumeNames(ctx, w),
		// compose does not see a volume's new generation as a change.
		Recreate:         w.Source.Kind() == sources.KindCompose && (d.why.Kind == WhyRestore || d.why.Kind == WhyPinned),
		SkipBeforeDeploy: a.beforeDeployDone(ctx, w), TaskDone: a.recordTask(ctx, w, o.Commit),
		Persist: func(ctx context.Context, c docker.Container) error {
			var perr error
			o, perr = a.recordStack(ctx, o, d, c.Name)
			return perr
		},
	}
	if d.hasRow {
		dep.Replaced = d.row.ContainerName
	}
	if _, err := a.engine.Deploy(ctx, dep); err != nil {
		switch {
		case errors.Is(err, engine.ErrNotRecorded):
			stage = StageRecorded
		case errors.Is(err, engine.ErrTaskFailed):
			stage = StageBeforeDeploy
		}
		return a.fail(o, d, stage, err)
	}
	return o
}

// stackFile is a managed workload's project (or stack) name, its compose
// file in the checkout, and that file's base name.
func stackFile(w *sources.Workload) (name, resolved, base string) {
	switch c := w.Source.(type) {
	case *compose.Config:
		return compose.ProjectName(w, c), c.ResolvedFile(), path.Base(c.File)
	case *compose.SwarmConfig:
		return compose.StackName(w, c), c.ResolvedFile(), path.Base(c.File)
	}
	return "", "", ""
}

// recordStack records a stack a tool (compose, Swarm) brought up: the
// row names the project, a new release keeps its spec.
func (a *Agent) recordStack(ctx context.Context, o Outcome, d deployment, project string) (Outcome, error) {
	row := a.baseRow(d)
	row.ContainerID, row.ContainerName, row.Upstream, row.Image = "", project, "", ""
	row.Status = store.StatusRunning
	a.applied(&row, o)
	var rel *store.Release
	if d.release == nil {
		rel = a.newRelease(o, "", docker.Image{})
	} else {
		row.ReleaseID = d.release.ID
	}
	row, err := a.store.RecordDeploy(ctx, row, rel)
	o.Release = row.ReleaseID
	return o, err
}

// previousStack is the last good release of a stack, for the engine's
// revert: nil when nothing good ran before.
func (a *Agent) previousStack(ctx context.Context, d deployment, project, base string) *engine.Release {
	if d.row.ReleaseID == 0 || d.row.AppliedHash == "" {
		return nil
	}
	rel, ok, err := a.store.Release(ctx, d.row.ReleaseID)
	if err != nil || !ok {
		return &engine.Release{Unavailable: errors.New("the last good release is not recorded")}
	}
	prev, err := gitops.DecodeWorkload(rel.Spec)
	if err != nil {
		return &engine.Release{Unavailable: err}
	}
	file := a.opts.Compose.SnapshotFile(project, rel.Hash, base)
	if file == "" {
		return &engine.Release{Unavailable: errors.New("its compose files are no longer kept")}
	}
	return &engine.Release{Workload: prev, Commit: rel.Commit, File: file, Env: a.secrets.env(prev, nil)}
}

// stackFileOf is the compose file to deploy: a fresh copy of the folder in
// the checkout, or the kept copy of a recorded release.
func (a *Agent) stackFileOf(d deployment, resolved, project, base string) (string, error) {
	if d.release != nil {
		f := a.opts.Compose.SnapshotFile(project, d.release.Hash, base)
		if f == "" {
			return "", fmt.Errorf("the compose files of the release at %s are no longer kept", shortSHA(d.release.Commit))
		}
		return f, nil
	}
	return a.opts.Compose.Snapshot(project, d.w.Hash, filepath.Join(a.configRoot(), filepath.FromSlash(resolved)))
}
