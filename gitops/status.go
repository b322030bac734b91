package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/berthops/berth/badge"
)

// WorkloadStatus is one workload's line in <agent>/status.json.
type WorkloadStatus struct {
	State        string    `json:"state"`                   // running, degraded, down, pinned, suspended, invalid, ...
	Summary      string    `json:"summary,omitempty"`       // "degraded: def5678 failed, abc1234 serving"
	Strategy     string    `json:"strategy,omitempty"`      // e.g. "blue-green (default)"
	Commit       string    `json:"commit,omitempty"`        // the config commit that serves
	FailedCommit string    `json:"failed_commit,omitempty"` // the commit whose deploy failed, while it backs off
	Pinned       bool      `json:"pinned,omitempty"`        // a rollback pinned it
	Suspended    bool      `json:"suspended,omitempty"`     // not reconciled until resumed
	Container    string    `json:"container,omitempty"`     // container (or compose project) name
	Message      string    `json:"message,omitempty"`       // a short generic reason
	UpdatedAt    time.Time `json:"updated_at"`
	// Backups are its scheduled volumes' snapshots, by volume.
	Backups map[string]VolumeBackup `json:"backups,omitempty"`
}

// VolumeBackup is a volume's backups as the status branch shows them: the
// newest snapshot's time (its age is now minus that), and whether the
// last attempt failed or the newest is older than two periods.
type VolumeBackup struct {
	LastAt  time.Time `json:"last_backup_at,omitzero"`
	Failing bool      `json:"failing,omitempty"`
	Stale   bool      `json:"stale,omitempty"`
}

// StatusReport is what one agent writes to the status branch.
type StatusReport struct {
	Agent     string                    `json:"agent"`
	Commit    string                    `json:"commit"` // the config commit of the tick
	Workloads map[string]WorkloadStatus `json:"workloads"`
	// Labels are the agent's --agent-labels, for placement in plans.
	Labels map[string]string `json:"labels,omitempty"`
	// Heartbeat is when the report was written; an idle agent rewrites
	// it every HeartbeatSeconds so the fleet view can tell quiet agents.
	Heartbeat        time.Time `json:"heartbeat,omitzero"`
	IntervalSeconds  int       `json:"interval_seconds,omitempty"`  // the schedule's tick interval
	HeartbeatSeconds int       `json:"heartbeat_seconds,omitempty"` // --heartbeat
	// Unverified is set while the branch tip is not signed by a trusted
	// key: the workloads run an older, verified commit.
	Unverified *Signature `json:"unverified,omitempty"`
	// Message is the commit message's subject.
	Message string `json:"-"`
}

// ErrPushRefused: the status branch cannot be pushed with these
// credentials (a token without write access): retrying will not help.
var ErrPushRefused = errors.New("the git server refused the status push (the token needs write access to the config repo)")

// StatusWriter commits status reports to a branch of the config repo, in a
// folder per agent (<agent>/status.json, <agent>/badges/<app>--<name>.svg),
// so many hosts write to one branch without conflicts. It never touches
// the watched branch, nor another agent's folder.
type StatusWriter struct {
	url    string
	branch string
	agent  string
	dir    string // a bare clone used to build and push commits
	creds  Credentials
	// Tries bounds the fetch-rebuild-push loop when another agent pushed
	// first (default 16).
	Tries int
	// Log says when a push is retried (default: nowhere).
	Log *slog.Logger
	mu  sync.Mutex // one fetch or push at a time in dir
}

// NewStatusWriter writes agent's folder on branch of the repo at url.
func NewStatusWriter(url, branch, agent, dir string, creds Credentials) (*StatusWriter, error) {
	if branch == "" {
		return nil, errors.New("no status branch")
	}
	if strings.ContainsAny(agent, "/\\") || agent == "" || agent == "." || agent == ".." {
		return nil, fmt.Errorf("agent name %q cannot be a folder name", agent)
	}
	if isLocalPath(url) {
		abs, err := filepath.Abs(url)
		if err != nil {
			return nil, err
		}
		url = abs
	}
	return &StatusWriter{url: url, branch: branch, agent: agent, dir: dir, creds: creds, Tries: 16,
		Log: slog.New(slog.DiscardHandler)}, nil
}

// Push commits the report on top of the branch's tip and pushes it. When
// another agent pushed first, it fetches, rebuilds on the new tip and
// retries with backoff. A report that changes nothing in the agent's
// folder makes no commit.
func (s *StatusWriter) Push(ctx context.Context, r StatusReport) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, err := s.open()
	if err != nil {
		return err
	}
	auth, err := (&Repo{url: s.url, creds: s.creds}).auth()
	if err != nil {
		return err
	}
	remoteRef := s.remoteRef()
	localRef := plumbing.NewBranchReferenceName("berth-status-" + s.agent)
	var lastErr error
	for attempt := range s.Tries {
		if attempt > 0 {
			wait := retryWait(attempt)
			s.Log.Info("status push rejected, retrying", "attempt", attempt+1, "of", s.Tries, "wait", wait.Round(time.Millisecond), "error", lastErr)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		err := s.fetch(ctx, repo, auth)
		var parent *object.Commit
		switch {
		case err == nil || errors.Is(err, git.NoErrAlreadyUpToDate):
			ref, rerr := repo.Reference(remoteRef, true)
			if rerr != nil {
				return fmt.Errorf("status branch: %w", rerr)
			}
			if parent, err = repo.CommitObject(ref.Hash()); err != nil {
				return fmt.Errorf("status branch tip: %w", err)
			}
		case isNoSuchRef(err):
			// The branch does not exist yet: the first commit has no parent.
		default:
			return fmt.Errorf("fetching the status branch: %w", (&Repo{url: s.url, branch: s.branch, creds: s.creds}).wrap("fetching", err))
		}
		commit, changed, err := s.commit(repo, parent, r)
		if err != nil || !changed {
			return err
		}
		if err := repo.Storer.SetReference(plumbing.NewHashReference(localRef, commit)); err != nil {
			return err
		}
		err = repo.PushContext(ctx, &git.PushOptions{
			RemoteName: "origin", Auth: auth,
			RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("%s:refs/heads/%s", localRef, s.branch))},
		})
		if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		lastErr = err
		if Classify(err) == NeedsPerson {
			return fmt.Errorf("%w: %w", ErrPushRefused, err)
		}
		// Most often another agent pushed first (go-git reports a rejected
		// ref as plain text): fetch, rebuild on the new tip, try again.
	}
	return fmt.Errorf("pushing the status branch: still rejected after %d tries: %w", s.Tries, lastErr)
}

func (s *StatusWriter) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", s.branch)
}

// fetch brings the status branch's tip into origin/<branch>.
func (s *StatusWriter) fetch(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) error {
	return repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin", Auth: auth, Force: true, Tags: git.NoTags,
		RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", s.branch, s.remoteRef()))},
	})
}

// retryWait spaces the retries of a rejected push: growing, capped at
// 5 s, and jittered so that agents which lost the same race do not meet
// again at the next one.
func retryWait(attempt int) time.Duration {
	base := min(time.Duration(attempt*attempt)*200*time.Millisecond, 5*time.Second)
	return base/2 + rand.N(base/2+1) //nolint:gosec // jitter, not a secret
}

func isNoSuchRef(err error) bool {
	return errors.Is(err, transport.ErrEmptyRemoteRepository) || errors.Is(err, git.NoMatchingRefSpecError{}) || errors.Is(err, plumbing.ErrReferenceNotFound)
}

func (s *StatusWriter) open() (*git.Repository, error) {
	repo, err := git.PlainOpen(s.dir)
	if err == nil {
		if remote, rerr := repo.Remote("origin"); rerr == nil && len(remote.Config().URLs) > 0 && remote.Config().URLs[0] == s.url {
			return repo, nil
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return nil, err
	}
	repo, err = git.PlainInit(s.dir, true)
	if err != nil {
		return nil, fmt.Errorf("creating the status clone: %w", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{s.url}}); err != nil {
		return nil, err
	}
	return repo, nil
}

// commit builds a commit whose tree is parent's with the agent's folder
// replaced; changed is false when the folder would not change.
func (s *StatusWriter) commit(repo *git.Repository, parent *object.Commit, r StatusReport) (plumbing.Hash, bool, error) {
	folder, err := s.folder(repo, r)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	var entries []object.TreeEntry
	var parents []plumbing.Hash
	if parent != nil {
		tree, err := parent.Tree()
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		for _, e := range tree.Entries {
			if e.Name == s.agent {
				if e.Hash == folder {
					return plumbing.ZeroHash, false, nil // nothing new to say
				}
				continue
			}
			entries = append(entries, e) // other agents' folders, untouched
		}
		parents = []plumbing.Hash{parent.Hash}
	}
	entries = append(entries, object.TreeEntry{Name: s.agent, Mode: filemode.Dir, Hash: folder})
	root, err := writeTreeObject(repo, entries)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	sig := object.Signature{Name: "berth (" + s.agent + ")", Email: "berth@" + s.agent, When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: r.Message + "\n", TreeHash: root, ParentHashes: parents}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	return h, true, err
}

// folder writes <agent>/status.json and <agent>/badges/*.svg as objects.
func (s *StatusWriter) folder(repo *git.Repository, r StatusReport) (plumbing.Hash, error) {
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	statusBlob, err := writeBlob(repo, append(body, '\n'))
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var badges []object.TreeEntry
	for id, w := range r.Workloads {
		blob, err := writeBlob(repo, badge.SVG(id, w.State))
		if err != nil {
			return plumbing.ZeroHash, err
		}
		badges = append(badges, object.TreeEntry{Name: strings.ReplaceAll(id, "/", "--") + ".svg", Mode: filemode.Regular, Hash: blob})
	}
	entries := []object.TreeEntry{{Name: "status.json", Mode: filemode.Regular, Hash: statusBlob}}
	if len(badges) > 0 {
		bt, err := writeTreeObject(repo, badges)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: "badges", Mode: filemode.Dir, Hash: bt})
	}
	return writeTreeObject(repo, entries)
}

func writeBlob(repo *git.Repository, data []byte) (plumbing.Hash, error) {
	obj := repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}

// writeTreeObject stores a tree, its entries in git's order (a folder
// sorts as if its name ended in "/").
func writeTreeObject(repo *git.Repository, entries []object.TreeEntry) (plumbing.Hash, error) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	t := &object.Tree{Entries: entries}
	obj := repo.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}

// ReadStatus reads an agent's status.json from the tip of the status
// branch of a local clone (for tests and tools).
func ReadStatus(dir, branch, agent string) (*StatusReport, error) {
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, err
	}
	h, err := repo.ResolveRevision(plumbing.Revision(branch))
	if err != nil {
		return nil, err
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return nil, err
	}
	f, err := c.File(agent + "/status.json")
	if err != nil {
		return nil, err
	}
	body, err := f.Contents()
	if err != nil {
		return nil, err
	}
	var r StatusReport
	if err := json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}
