package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/berthops/berth/agent/store"
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
	file, err := a.stackFile(d, c, project)
	if err != nil {
		return a.fail(o, d, StageCompose, err)
	}
	if err := a.checkRendered(ctx, project, file, a.secrets.env(w, nil)); err != nil {
		return a.fail(o, d, StageCompose, err)
	}
	recreate := o.Decision.Strategy == sources.StrategyRecreate
	if err := a.opts.Compose.Up(ctx, project, file, a.engine.Labels(w, o.Commit), a.secrets.env(w, nil), recreate); err != nil {
		return a.fail(o, d, StageCompose, a.restoreStack(ctx, d, c, project, err))
	}
	row := a.baseRow(d)
	row.ContainerID, row.ContainerName, row.Upstream, row.Image = "", project, "", ""
	row.Status = store.StatusRunning
	a.applied(&row, o)
	var rel *store.Release
	if d.release == nil {
		rel = a.newRelease(o, "", sources.Image{})
	} else {
		row.ReleaseID = d.release.ID
	}
	row, err = a.store.RecordDeploy(ctx, row, rel)
	if err != nil {
		return a.fail(o, d, StageRecorded, err)
	}
	o.Release = row.ReleaseID
	if prev := d.row.ContainerName; d.hasRow && prev != "" && prev != project {
		// The project was renamed (source.project, or names that became
		// injective): the old one's containers go.
		if err := a.opts.Compose.Down(ctx, prev); err != nil {
			a.log.Warn("removing the previous compose project failed", "workload", w.ID(), "project", prev, "error", err)
		}
	}
	return o
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
		mine := c.Labels[sources.LabelAgent] == a.opts.Name && c.Workload() == w.ID() &&
			(a.opts.StateID == "" || c.Labels[sources.LabelState] == "" || c.Labels[sources.LabelState] == a.opts.StateID)
		if !mine {
			return fmt.Errorf("compose project %q has containers Berth does not own (%s): choose another source.project", project, c.Name)
		}
	}
	return nil
}

// stackFile is the compose file to up: a fresh copy of the folder in the
// checkout, or the kept copy of a recorded release.
func (a *Agent) stackFile(d deployment, c *compose.Config, project string) (string, error) {
	if d.release != nil {
		f := a.opts.Compose.SnapshotFile(project, d.release.Hash, path.Base(c.File))
		if f == "" {
			return "", fmt.Errorf("the compose files of the release at %s are no longer kept", shortSHA(d.release.Commit))
		}
		return f, nil
	}
	return a.opts.Compose.Snapshot(project, d.w.Hash, filepath.Join(a.configRoot(), filepath.FromSlash(c.ResolvedFile())))
}

// restoreStack brings the last good release of the stack up again after
// a failed up. It returns the up's error marked with what serves now.
func (a *Agent) restoreStack(ctx context.Context, d deployment, c *compose.Config, project string, upErr error) error {
	if d.row.ReleaseID == 0 || d.row.AppliedHash == "" {
		return upErr // nothing good ran before
	}
	rel, ok, err := a.store.Release(ctx, d.row.ReleaseID)
	if err != nil || !ok {
		return errors.Join(upErr, fmt.Errorf("%w: the last good release is not recorded", sources.ErrRestoreFailed))
	}
	prev, err := gitops.DecodeWorkload(rel.Spec)
	if err != nil {
		return errors.Join(upErr, fmt.Errorf("%w: %w", sources.ErrRestoreFailed, err))
	}
	file := a.opts.Compose.SnapshotFile(project, rel.Hash, path.Base(c.File))
	if file == "" {
		return errors.Join(upErr, fmt.Errorf("%w: its compose files are no longer kept", sources.ErrRestoreFailed))
	}
	bg := context.WithoutCancel(ctx)
	if err := a.opts.Compose.Up(bg, project, file, a.engine.Labels(prev, rel.Commit), a.secrets.env(prev, nil), false); err != nil {
		return errors.Join(upErr, fmt.Errorf("%w: %w", sources.ErrRestoreFailed, err))
	}
	a.log.Warn("rolled back: the previous compose project serves again", "workload", d.w.ID(), "commit", shortSHA(rel.Commit))
	return fmt.Errorf("%w: %w", sources.ErrRolledBack, upErr)
}

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
