package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/dockerfile"
)

// AppRepo is a dockerfile workload's app repo as the agent uses it.
type AppRepo interface {
	Pull(ctx context.Context) (string, error)
	Dir() string
	// CheckedOut is the commit of the last completed checkout on disk.
	CheckedOut() string
}

// appRepos fetches the app repos dockerfile workloads build from and keeps
// the last checkout of each.
type appRepos struct {
	open    func(url, branch, name string) (AppRepo, error) // nil: not configured
	log     *slog.Logger
	states  map[string]appState // by workload id
	timeout time.Duration       // --git-timeout
}

type appState struct {
	dir, commit string
	err         error
}

// resolve fetches the app repo of every dockerfile workload that builds
// from one and folds its commit into the workload's desired hash, so a
// push to the app repo redeploys. It reports whether any hash moved.
func (r *appRepos) resolve(ctx context.Context, d *gitops.Desired) bool {
	changed := false
	for _, w := range d.Workloads {
		git := appRepoOf(w)
		if git == nil {
			continue
		}
		prev := r.states[w.ID()]
		st := r.fetch(ctx, w, git, prev)
		r.states[w.ID()] = st
		if w.ContentHashes["source.git"] != st.commit || prev.commit != st.commit {
			w.SetContentHash("source.git", st.commit)
			w.Hash = gitops.Hash(w)
			changed = true
		}
	}
	return changed
}

// fetch pulls the app repo. When the remote cannot be reached, the last
// fetched commit (in memory, or the last completed checkout on disk after
// a restart) is kept: the workload keeps its hash, so an outage neither
// fails a deploy nor causes a redeploy when the remote is back.
func (r *appRepos) fetch(ctx context.Context, w *sources.Workload, git *dockerfile.GitSource, prev appState) appState {
	if r.open == nil {
		return appState{err: fmt.Errorf("app repos are not configured")}
	}
	c := w.Source.(*dockerfile.Config)
	repo, err := r.open(git.URL, c.GitRef(), sources.Slug(w))
	if err != nil {
		return appState{err: err}
	}
	var sha string
	err = fault.Deadline(ctx, r.timeout, "--git-timeout", func(ctx context.Context) (err error) {
		sha, err = repo.Pull(ctx)
		return err
	})
	if err != nil {
		if prev.commit == "" {
			prev = appState{dir: repo.Dir(), commit: repo.CheckedOut()}
		}
		if prev.commit != "" {
			r.log.Warn("fetching the app repo failed; building from the last fetched commit", "workload", w.ID(), "commit", shortSHA(prev.commit), "error", err)
			return appState{dir: prev.dir, commit: prev.commit}
		}
		r.log.Warn("fetching the app repo failed", "workload", w.ID(), "error", err)
		return appState{err: err}
	}
	return appState{dir: repo.Dir(), commit: sha}
}

// checkout is the workload's app repo checkout; nil for a workload that
// builds from the config repo.
func (r *appRepos) checkout(w *sources.Workload) (*sources.AppCheckout, error) {
	git := appRepoOf(w)
	if git == nil {
		return nil, nil
	}
	st := r.states[w.ID()]
	if st.err != nil || st.dir == "" {
		return nil, fmt.Errorf("app repo %s: %w", gitops.RedactURL(git.URL), st.err)
	}
	return &sources.AppCheckout{Dir: st.dir, Commit: st.commit}, nil
}

// any reports whether a workload builds from an app repo.
func (r *appRepos) any(d *gitops.Desired) bool {
	if d == nil {
		return false
	}
	for _, w := range d.Workloads {
		if appRepoOf(w) != nil {
			return true
		}
	}
	return false
}

func appRepoOf(w *sources.Workload) *dockerfile.GitSource {
	if c, ok := w.Source.(*dockerfile.Config); ok {
		return c.AppRepo()
	}
	return nil
}
