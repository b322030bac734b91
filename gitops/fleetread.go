package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/storage/memory"
)

// ErrNoStatusBranch means nobody has pushed status yet (or status
// push-back is off on every agent).
var ErrNoStatusBranch = errors.New("no status branch")

// FetchFleet reads the status branch of the repo at url: a shallow
// in-memory fetch of that branch alone, nothing written to disk.
func FetchFleet(ctx context.Context, url, branch string, creds Credentials, now time.Time) (*Fleet, error) {
	r := &Repo{url: url, branch: branch, creds: creds}
	auth, err := r.auth()
	if err != nil {
		return nil, err
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL: url, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch: true, Depth: 1, NoCheckout: true, Tags: git.NoTags,
	})
	if err != nil {
		if isNoSuchRef(err) {
			return nil, fmt.Errorf("%w %q in %s", ErrNoStatusBranch, branch, RedactURL(url))
		}
		return nil, r.wrap("reading the status branch", err)
	}
	return ReadFleet(repo, plumbing.NewBranchReferenceName(branch), branch, now)
}

// OpenFleet reads the status branch from a local clone: its
// remote-tracking branch when there is one (refreshed by git fetch),
// else a local branch of that name.
func OpenFleet(dir, branch string, now time.Time) (*Fleet, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%s is not a git repository: give the config repo's URL, or a clone of it", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	for _, ref := range []plumbing.ReferenceName{
		plumbing.NewRemoteReferenceName("origin", branch), plumbing.NewBranchReferenceName(branch),
	} {
		if _, err := repo.Reference(ref, true); err == nil {
			return ReadFleet(repo, ref, branch, now)
		}
	}
	return nil, fmt.Errorf("%w %q in %s (neither origin/%s nor %s; run git fetch origin %s)", ErrNoStatusBranch, branch, dir, branch, branch, branch)
}

// OriginURL is the URL of a local clone's origin remote, "" when it has
// none (it is itself the repo agents push to).
func OriginURL(dir string) string {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	remote, err := repo.Remote("origin")
	if err != nil || len(remote.Config().URLs) == 0 {
		return ""
	}
	u := remote.Config().URLs[0]
	if isLocalPath(u) && !filepath.IsAbs(u) {
		return "" // relative to a folder we do not know
	}
	return u
}

// ReadFleet reads every <agent>/status.json at ref. A folder whose
// status.json cannot be read is named in Problems, not fatal.
func ReadFleet(repo *git.Repository, ref plumbing.ReferenceName, branch string, now time.Time) (*Fleet, error) {
	r, err := repo.Reference(ref, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	c, err := repo.CommitObject(r.Hash())
	if err != nil {
		return nil, fmt.Errorf("status branch tip: %w", err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	var reports []StatusReport
	var problems []string
	for _, e := range tree.Entries {
		if e.Mode != filemode.Dir {
			continue
		}
		f, err := tree.File(e.Name + "/status.json")
		if err != nil {
			continue // not an agent's folder
		}
		body, err := f.Contents()
		var rep StatusReport
		if err == nil {
			err = json.Unmarshal([]byte(body), &rep)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/status.json: %v", e.Name, err))
			continue
		}
		rep.Agent = e.Name // the folder is the agent's name, whatever the file says
		reports = append(reports, rep)
	}
	f := NewFleet(branch, c.Hash.String(), reports, now)
	f.Problems = problems
	return f, nil
}

// Fleet fetches the status branch into the writer's clone and reads every
// agent's folder: what an agent serves at /api/fleet and how it learns
// that a workload moved away now serves elsewhere.
func (s *StatusWriter) Fleet(ctx context.Context, now time.Time) (*Fleet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, err := s.open()
	if err != nil {
		return nil, err
	}
	r := &Repo{url: s.url, branch: s.branch, creds: s.creds}
	auth, err := r.auth()
	if err != nil {
		return nil, err
	}
	if err := s.fetch(ctx, repo, auth); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if isNoSuchRef(err) {
			return nil, fmt.Errorf("%w %q", ErrNoStatusBranch, s.branch)
		}
		return nil, r.wrap("reading the status branch", err)
	}
	return ReadFleet(repo, s.remoteRef(), s.branch, now)
}
