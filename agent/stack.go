package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"gopkg.in/yaml.v3"
)

// deployStack brings a compose workload's stack up from a kept copy of its
// folder and waits until every service runs. The stack tool owns its
// containers; Berth labels them (so the one snapshot finds them) and
// records the stack in the runtime row. When the up fails, the last good
// copy is brought up again: the previous version serves again.
func (a *Agent) deployStack(ctx context.Context, o Outcome, d deployment, c *compose.Config) Outcome {
	w := d.w
	if a.opts.Compose == nil {
		return a.fail(o, d, StageCompose, errors.New("compose is not configured"))
	}
	project := compose.ProjectName(w, c)
	if err := a.ownProject(ctx, w, project); err != nil {
		return a.fail(o, d, StageCompose, err)
	}
	file, err := a.stackFileOf(d, c.File, c.ResolvedFile(), project)
	if err != nil {
		return a.fail(o, d, StageCompose, err)
	}
	if err := a.checkRendered(ctx, project, file, a.secrets.env(w, nil)); err != nil {
		return a.fail(o, d, StageCompose, err)
	}
	recreate := o.Decision.Strategy == sources.StrategyRecreate
	if err := a.opts.Compose.Up(ctx, project, file, a.engine.Labels(w, o.Commit), a.secrets.env(w, nil), recreate); err != nil {
		up := func(ctx context.Context, file string, prev *sources.Workload, commit string) error {
			return a.opts.Compose.Up(ctx, project, file, a.engine.Labels(prev, commit), a.secrets.env(prev, nil), false)
		}
		return a.fail(o, d, StageCompose, a.restoreStack(ctx, d, project, path.Base(c.File), up, err))
	}
	o, err = a.recordStack(ctx, o, d, project)
	if err != nil {
		return a.fail(o, d, StageRecorded, err)
	}
	if prev := d.row.ContainerName; d.hasRow && prev != "" && prev != project {
		// The project was renamed (source.project, or names that became
		// injective): the old one's containers go.
		if err := a.opts.Compose.Down(ctx, prev); err != nil {
			a.log.Warn("removing the previous compose project failed", "workload", w.ID(), "project", prev, "error", err)
		}
	}
	return o
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

// ownProject refuses a compose project that has containers Berth did not
// make for this workload: a commit must not take over (and then remove)
// someone else's stack by naming its project.
func (a *Agent) ownProject(ctx context.Context, w *sources.Workload, project string) error {
	cs, err := a.docker.ProjectContainers(ctx, project)
	if err != nil {
		return err
	}
	for _, c := range cs {
		mine := c.Labels[docker.LabelAgent] == a.opts.Name && c.Workload() == w.ID() &&
			(a.opts.StateID == "" || c.Labels[docker.LabelState] == "" || c.Labels[docker.LabelState] == a.opts.StateID)
		if !mine {
			return fmt.Errorf("compose project %q has containers Berth does not own (%s): choose another source.project", project, c.Name)
		}
	}
	return nil
}

// restoreStack brings the last good release of a stack up again (with up,
// from its kept copy of the file named base) after a failed deploy. It
// returns the deploy's error marked with what serves now.
func (a *Agent) restoreStack(ctx context.Context, d deployment, project, base string, up stackUp, upErr error) error {
	if d.row.ReleaseID == 0 || d.row.AppliedHash == "" {
		return upErr // nothing good ran before
	}
	rel, ok, err := a.store.Release(ctx, d.row.ReleaseID)
	if err != nil || !ok {
		return errors.Join(upErr, fmt.Errorf("%w: the last good release is not recorded", engine.ErrRestoreFailed))
	}
	prev, err := gitops.DecodeWorkload(rel.Spec)
	if err != nil {
		return errors.Join(upErr, fmt.Errorf("%w: %w", engine.ErrRestoreFailed, err))
	}
	file := a.opts.Compose.SnapshotFile(project, rel.Hash, base)
	if file == "" {
		return errors.Join(upErr, fmt.Errorf("%w: its compose files are no longer kept", engine.ErrRestoreFailed))
	}
	if err := up(context.WithoutCancel(ctx), file, prev, rel.Commit); err != nil {
		return errors.Join(upErr, fmt.Errorf("%w: %w", engine.ErrRestoreFailed, err))
	}
	a.log.Warn("rolled back: the previous version of the stack serves again", "workload", d.w.ID(), "project", project, "commit", shortSHA(rel.Commit))
	return fmt.Errorf("%w: %w", engine.ErrRolledBack, upErr)
}

// stackUp brings a kept copy of a stack's file up as prev, at commit.
type stackUp func(ctx context.Context, file string, prev *sources.Workload, commit string) error

// checkRendered holds the project, as docker compose renders it with
// this workload's variables, to the operator's policy: what the file
// cannot say (a privileged: ${FLAG}) the rendering shows.
func (a *Agent) checkRendered(ctx context.Context, project, file string, vars []string) error {
	out, err := a.opts.Compose.Rendered(ctx, project, file, vars)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil {
		return fmt.Errorf("reading the rendered compose project: %w", err)
	}
	violations := a.opts.Policy.Compose(&doc, filepath.Dir(file))
	if len(violations) == 0 {
		return nil
	}
	msgs := make([]string, len(violations))
	for i, v := range violations {
		msgs[i] = v.Error()
	}
	return fmt.Errorf("%w: %s", ErrNotAllowed, strings.Join(msgs, "; "))
}
