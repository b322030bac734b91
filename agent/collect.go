package agent

import (
	"context"
	"strings"

	"github.com/berthops/berth/sources"
)

// imageCollector is what collecting images needs from Docker.
type imageCollector interface {
	ImagesByRef(ctx context.Context, reference string) ([]string, error)
	RemoveImage(ctx context.Context, id string, owned func(ref string) bool) (bool, error)
	PruneBuildCache(ctx context.Context) error
}

// collect keeps the last KeepReleases releases of each workload (and the
// serving and the pinned one), forgets the compose copies of the others,
// and removes the images that Berth built or pulled and that no kept
// release and no container uses, so the disk stops filling.
func (a *Agent) collect(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	candidates := map[string]bool{}
	for _, id := range ids {
		for _, img := range a.pruneReleases(ctx, id) {
			candidates[img] = true
		}
		if w := a.workload(id); w != nil {
			built, err := a.docker.ImagesByRef(ctx, sources.BuiltRepo(w)+":*")
			if err != nil {
				a.log.Warn("listing built images failed", "workload", id, "error", err)
			}
			for _, img := range built {
				candidates[img] = true
			}
		}
	}
	a.removeImages(ctx, candidates)
}

// pruneReleases drops a workload's releases beyond KeepReleases and
// returns their images.
func (a *Agent) pruneReleases(ctx context.Context, id string) []string {
	row, _, err := a.store.GetRuntime(ctx, id)
	if err != nil {
		a.log.Warn("reading the runtime state failed", "workload", id, "error", err)
		return nil
	}
	gone, err := a.store.PruneReleases(ctx, id, a.opts.KeepReleases, row.ReleaseID, row.PinnedRelease)
	if err != nil {
		a.log.Warn("pruning releases failed", "workload", id, "error", err)
	}
	var images []string
	for _, r := range gone {
		if r.ImageID != "" {
			images = append(images, r.ImageID)
		}
	}
	if sources.Kind(row.Kind).Managed() && a.opts.Compose != nil {
		a.forgetStackCopies(ctx, id, row.ContainerName)
	}
	return images
}

func (a *Agent) forgetStackCopies(ctx context.Context, id, project string) {
	kept, err := a.store.Releases(ctx, id)
	if err != nil {
		return
	}
	hashes := make([]string, 0, len(kept))
	for _, r := range kept {
		hashes = append(hashes, r.Hash)
	}
	if len(hashes) == 0 {
		return
	}
	if err := a.opts.Compose.Forget(project, hashes...); err != nil {
		a.log.Warn("forgetting old compose copies failed", "workload", id, "error", err)
	}
}

func (a *Agent) removeImages(ctx context.Context, candidates map[string]bool) {
	if len(candidates) == 0 {
		return
	}
	all, err := a.store.Releases(ctx, "")
	if err != nil {
		a.log.Warn("image collection skipped", "error", err)
		return
	}
	owned, err := a.store.OwnedImages(ctx)
	if err != nil {
		a.log.Warn("image collection skipped", "error", err)
		return
	}
	kept := map[string]bool{}
	for _, r := range all {
		kept[r.ImageID] = true
	}
	removed := 0
	for id := range candidates {
		if kept[id] {
			continue
		}
		gone, err := a.docker.RemoveImage(ctx, id, func(ref string) bool { return strings.HasPrefix(ref, "berth/") || owned[id] == ref })
		if err != nil {
			a.log.Warn("removing an unused image failed", "image", id, "error", err)
			continue
		}
		if gone {
			removed++
			_ = a.store.DisownImage(ctx, id)
		}
	}
	if removed > 0 {
		a.log.Info("removed unused images", "count", removed)
		if err := a.docker.PruneBuildCache(ctx); err != nil {
			a.log.Warn("pruning the build cache failed", "error", err)
		}
	}
}

// workload is the loaded desired workload with id, nil when there is none.
func (a *Agent) workload(id string) *sources.Workload {
	if a.cache.desired == nil {
		return nil
	}
	return a.cache.desired.ByID()[id]
}
