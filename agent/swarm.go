package agent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// StageSwarm is a stack workload's `docker stack deploy` and rollout.
const StageSwarm Stage = "docker stack deploy"

// deploySwarm deploys a stack workload to Docker Swarm from a kept copy of
// its folder and follows the rollout. Swarm owns the tasks and their
// update order (update_config); Berth reports its verdict truthfully: an
// update Swarm rolled back (or paused, which Berth then rolls back) is a
// failure. When the deploy fails otherwise (the stack never converged),
// the last good copy is deployed again.
func (a *Agent) deploySwarm(ctx context.Context, o Outcome, d deployment, c *compose.SwarmConfig) Outcome {
	w := d.w
	if a.opts.Swarm == nil || a.opts.Compose == nil {
		return a.fail(o, d, StageSwarm, errors.New("stacks are not configured (they need the docker CLI and its compose plugin)"))
	}
	stack := compose.StackName(w, c)
	file, err := a.stackFileOf(d, c.File, c.ResolvedFile(), stack)
	if err != nil {
		return a.fail(o, d, StageSwarm, err)
	}
	vars := a.secrets.env(w, nil)
	if err := a.checkRendered(ctx, stack, file, vars); err != nil {
		return a.fail(o, d, StageSwarm, err)
	}
	if err := a.opts.Swarm.Deploy(ctx, stack, file, a.engine.Labels(w, o.Commit), vars); err != nil {
		if !errors.Is(err, engine.ErrRolledBack) && !errors.Is(err, docker.ErrNotSwarmManager) && !errors.Is(err, engine.ErrStillServing) {
			// It never converged, and Swarm did not roll it back: Berth
			// deploys the last good copy again.
			up := func(ctx context.Context, file string, prev *sources.Workload, commit string) error {
				return a.opts.Swarm.Deploy(ctx, stack, file, a.engine.Labels(prev, commit), a.secrets.env(prev, nil))
			}
			err = a.restoreStack(ctx, d, stack, path.Base(c.File), up, err)
		}
		return a.fail(o, d, StageSwarm, err)
	}
	o, err = a.recordStack(ctx, o, d, stack)
	if err != nil {
		return a.fail(o, d, StageRecorded, err)
	}
	if prev := d.row.ContainerName; d.hasRow && prev != "" && prev != stack {
		if err := a.opts.Swarm.Remove(ctx, prev); err != nil {
			a.log.Warn("removing the previous Swarm stack failed", "workload", w.ID(), "stack", prev, "error", err)
		}
	}
	return o
}

// stackFileOf is the compose file to deploy: a fresh copy of the folder in
// the checkout, or the kept copy of a recorded release.
func (a *Agent) stackFileOf(d deployment, file, resolved, project string) (string, error) {
	if d.release != nil {
		f := a.opts.Compose.SnapshotFile(project, d.release.Hash, path.Base(file))
		if f == "" {
			return "", fmt.Errorf("the compose files of the release at %s are no longer kept", shortSHA(d.release.Commit))
		}
		return f, nil
	}
	return a.opts.Compose.Snapshot(project, d.w.Hash, filepath.Join(a.configRoot(), filepath.FromSlash(resolved)))
}
