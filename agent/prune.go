package agent

import (
	"context"
	"strings"

	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/sources"
)

// prune removes the workloads whose files left the repo: their compose
// stack or containers, their route and their row. A workload whose
// containers cannot all be removed keeps its row, so the next tick retries.
func (a *Agent) prune(ctx context.Context, commit string, p plan, res *TickResult) {
	if p.refused > 0 {
		a.report.pruneRefused(ctx, commit, p.refused)
		return
	}
	for _, pr := range p.prune {
		if a.pruneOne(ctx, pr) {
			a.report.pruned(ctx, pr.id, commit)
			res.Pruned = append(res.Pruned, pr.id)
		}
	}
}

func (a *Agent) pruneOne(ctx context.Context, pr pruning) bool {
	if pr.stack != "" {
		if a.opts.Swarm == nil {
			a.log.Warn("pruning the Swarm stack: stacks are not configured", "workload", pr.id, "stack", pr.stack)
			return false
		}
		if err := a.opts.Swarm.Remove(ctx, pr.stack); err != nil {
			a.log.Warn("pruning the Swarm stack failed", "workload", pr.id, "stack", pr.stack, "error", err)
			return false
		}
		pr.project = pr.stack // its kept copies go below
	} else if pr.service != "" {
		sd, err := a.swarm()
		if err == nil {
			err = sd.RemoveService(ctx, pr.service)
		}
		if err == nil {
			err = sd.RemoveSecrets(ctx, pr.id, nil)
		}
		if err != nil {
			a.log.Warn("pruning the Swarm service failed", "workload", pr.id, "service", pr.service, "error", err)
			return false
		}
	} else if pr.project != "" && a.opts.Compose != nil {
		if err := a.opts.Compose.Down(ctx, pr.project); err != nil {
			a.log.Warn("pruning the compose stack failed", "workload", pr.id, "project", pr.project, "error", err)
			return false
		}
	}
	ok := true
	remove := a.docker.Remove
	if a.opts.PruneVolumes {
		remove = a.docker.Purge
	}
	for _, c := range pr.containers {
		if err := remove(ctx, c.ID, engine.DefaultStopGrace); err != nil {
			a.log.Warn("pruning container failed", "workload", pr.id, "container", c.Name, "error", err)
			ok = false
		}
	}
	if !ok {
		return false
	}
	if a.opts.Router != nil {
		if err := a.opts.Router.Remove(ctx, pr.id); err != nil {
			a.log.Warn("removing the route failed", "workload", pr.id, "error", err)
		}
	}
	if app, rest, ok := strings.Cut(pr.id, "/"); ok {
		if _, slug, ok := strings.Cut(rest, "@"); ok {
			// The preview's network goes with its last workload (until
			// then Docker refuses: another container still uses it).
			if err := a.docker.RemoveNetwork(ctx, sources.PreviewNetwork(app, slug)); err != nil {
				a.log.Debug("the preview's network stays", "workload", pr.id, "error", err)
			}
		}
	}
	if a.opts.PruneVolumes || a.previewVolumesGo(pr.id) {
		if err := a.docker.RemoveWorkloadVolumes(ctx, a.opts.Name, pr.id); err != nil {
			a.log.Warn("removing the workload's volumes failed", "workload", pr.id, "error", err)
		}
	}
	if pr.project != "" && a.opts.Compose != nil {
		if err := a.opts.Compose.Forget(pr.project); err != nil {
			a.log.Warn("forgetting the compose copies failed", "workload", pr.id, "error", err)
		}
	}
	a.forgetReleases(ctx, pr.id)
	if err := a.store.DeleteRuntime(ctx, pr.id); err != nil {
		a.log.Warn("pruning runtime state failed", "workload", pr.id, "error", err)
		return false
	}
	return true
}

// forgetReleases deletes a pruned workload's releases and removes the
// images only they kept.
func (a *Agent) forgetReleases(ctx context.Context, id string) {
	gone, err := a.store.DeleteReleases(ctx, id)
	if err != nil {
		a.log.Warn("deleting the releases failed", "workload", id, "error", err)
		return
	}
	candidates := map[string]bool{}
	for _, r := range gone {
		if r.ImageID != "" {
			candidates[r.ImageID] = true
		}
	}
	a.removeImages(ctx, candidates)
}
