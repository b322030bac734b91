package agent

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/dockerfile"
	"github.com/berthops/berth/sources/image"
	"github.com/berthops/berth/sources/static"
)

// prepared is a workload's image, ready to run.
type prepared struct {
	image   string
	volumes map[string]string
}

// prepare makes the workload's image available: the one switch over
// source kinds on the container deploy path.
func (a *Agent) prepare(ctx context.Context, w *sources.Workload) (prepared, error) {
	log := a.log.With("workload", w.ID())
	switch c := w.Source.(type) {
	case *image.Config:
		ref, err := image.Prepare(ctx, a.docker, c, log)
		return prepared{image: ref}, err
	case *dockerfile.Config:
		dir := a.repoPath(w.Files["source.context"])
		if c.Git != nil {
			app := a.apps[w.ID()]
			if app.err != nil || app.dir == "" {
				return prepared{}, fmt.Errorf("app repo %s: %w", gitops.RedactURL(c.Git.URL), app.err)
			}
			dir = app.dir
		}
		ref, err := dockerfile.Prepare(ctx, a.docker, w, c, dir, log)
		return prepared{image: ref}, err
	case *static.Config:
		ref, err := static.Prepare(ctx, a.docker, w, c, a.repoPath(w.Files["source.dir"]), a.opts.StaticServer, log)
		return prepared{image: ref, volumes: static.Volumes(w, c)}, err
	default:
		return prepared{}, fmt.Errorf("%s sources: %w", w.Source.Kind(), sources.ErrNotImplemented)
	}
}

// repoPath is a path from the config root (already checked to stay inside
// the checkout by the loader) on disk.
func (a *Agent) repoPath(rel string) string {
	return filepath.Join(a.repo.Dir(), a.opts.Path, rel)
}

// resolveApps fetches the app repo of every dockerfile workload that
// builds from one and folds its commit into the workload's desired hash,
// so a push to the app repo redeploys. It reports whether any hash moved.
func (a *Agent) resolveApps(ctx context.Context, d *gitops.Desired) bool {
	changed := false
	for _, w := range d.Workloads {
		c, ok := w.Source.(*dockerfile.Config)
		if !ok || c.Git == nil {
			continue
		}
		st := a.resolveApp(ctx, w, c)
		prev := a.apps[w.ID()]
		a.apps[w.ID()] = st
		if w.ContentHashes == nil {
			w.ContentHashes = map[string]string{}
		}
		if w.ContentHashes["source.git"] != st.commit || prev.commit != st.commit {
			w.ContentHashes["source.git"] = st.commit
			w.Hash = gitops.Hash(w)
			changed = true
		}
	}
	return changed
}

func (a *Agent) resolveApp(ctx context.Context, w *sources.Workload, c *dockerfile.Config) appState {
	if a.opts.AppRepo == nil {
		return appState{err: fmt.Errorf("app repos are not configured")}
	}
	repo, err := a.opts.AppRepo(c.Git.URL, c.GitRef(), w.App+"-"+w.Name)
	if err != nil {
		return appState{err: err}
	}
	sha, err := repo.Pull(ctx)
	if err != nil {
		a.log.Warn("fetching the app repo failed", "workload", w.ID(), "error", err)
		return appState{err: err}
	}
	return appState{dir: repo.Dir(), commit: sha}
}

// hasAppRepos reports whether any workload builds from an app repo.
func hasAppRepos(d *gitops.Desired) bool {
	if d == nil {
		return false
	}
	for _, w := range d.Workloads {
		if c, ok := w.Source.(*dockerfile.Config); ok && c.Git != nil {
			return true
		}
	}
	return false
}
