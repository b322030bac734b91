package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// ErrNothingToChange: the edit left the file as it is on the branch's tip
// (someone — a human, another agent — made the change already).
var ErrNothingToChange = errors.New("the file already says so")

// ErrNotOurs: a proposal branch carries someone else's commit.
var ErrNotOurs = errors.New("the branch is not Berth's")

// FileCommitter commits edits of single files to a branch of the config
// repo, as an agent: it fetches the tip, applies the edit to the file as
// the tip has it, commits on top and pushes — never forced. When someone
// pushed first it fetches and applies the edit again, with jittered
// backoff, so a race with a human or another agent ends in one commit.
type FileCommitter struct {
	url   string
	dir   string // a bare clone
	creds Credentials
	agent string
	// Tries bounds the fetch-edit-push loop (default 5).
	Tries int
	// Key, when set, signs each commit (an SSH signature, as `git
	// commit -S` with gpg.format=ssh makes), so --trusted-signers can
	// name the agent.
	Key ssh.Signer
	Log *slog.Logger
	mu  sync.Mutex
}

// NewFileCommitter commits as agent to the repo at url, through a bare
// clone in dir.
func NewFileCommitter(url, dir, agent string, creds Credentials) *FileCommitter {
	return &FileCommitter{url: url, dir: dir, creds: creds, agent: agent, Tries: 5, Log: slog.New(slog.DiscardHandler)}
}

// Commit applies edit to the file at path (slash-separated, from the repo
// root) on branch and pushes the commit; it returns the new commit's
// hash, or ErrNothingToChange. With a base, branch is a proposal
// (a pull request's head): the commit is made on base's tip and replaces
// the branch, unless someone else committed there (ErrNotOurs).
func (c *FileCommitter) Commit(ctx context.Context, branch, base, file, message string, edit func([]byte) ([]byte, error)) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sw := &StatusWriter{url: c.url, dir: c.dir}
	repo, err := sw.open()
	if err != nil {
		return "", err
	}
	r := &Repo{url: c.url, branch: branch, creds: c.creds}
	auth, err := r.auth()
	if err != nil {
		return "", err
	}
	var lastErr error
	for attempt := range max(c.Tries, 1) {
		if attempt > 0 {
			wait := retryWait(attempt)
			c.Log.Info("push rejected, retrying", "branch", branch, "attempt", attempt+1, "wait", wait.Round(time.Millisecond), "error", lastErr)
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(wait):
			}
		}
		var parent *object.Commit
		force := ""
		if base != "" {
			// A proposal branch is Berth's own: rebuilt on the base's tip
			// each time (so it never falls behind), replaced only while
			// nobody else committed to it.
			if own, err := c.tip(ctx, repo, auth, branch, ""); err == nil && !strings.HasPrefix(own.Author.Name, "berth (") {
				return "", fmt.Errorf("%w: %s's newest commit is by %s; Berth does not overwrite it", ErrNotOurs, branch, own.Author.Name)
			}
			if parent, err = c.tip(ctx, repo, auth, base, ""); err != nil {
				return "", err
			}
			force = "+"
		} else if parent, err = c.tip(ctx, repo, auth, branch, ""); err != nil {
			return "", err
		}
		h, err := c.build(repo, parent, file, message, edit)
		if err != nil {
			return "", err
		}
		local := plumbing.NewBranchReferenceName("berth-edit")
		if err := repo.Storer.SetReference(plumbing.NewHashReference(local, h)); err != nil {
			return "", err
		}
		err = repo.PushContext(ctx, &git.PushOptions{RemoteName: "origin", Auth: auth,
			RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("%s%s:refs/heads/%s", force, local, branch))}})
		if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
			return h.String(), nil
		}
		lastErr = err
		if Classify(err) == NeedsPerson {
			return "", fmt.Errorf("pushing to %s: %s (the agent's token needs write access to the config repo for source.update)",
				branch, strings.TrimSpace(r.wrap("pushing", err).Error()))
		}
	}
	return "", fmt.Errorf("pushing to %s: still rejected after %d tries: %w", branch, c.Tries, lastErr)
}

// tip is the branch's newest commit, or base's when the branch does not
// exist yet.
func (c *FileCommitter) tip(ctx context.Context, repo *git.Repository, auth transport.AuthMethod, branch, base string) (*object.Commit, error) {
	for _, b := range []string{branch, base} {
		if b == "" {
			continue
		}
		remote := plumbing.NewRemoteReferenceName("origin", b)
		err := repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", Auth: auth, Force: true, Tags: git.NoTags,
			RefSpecs: []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", b, remote))}})
		switch {
		case err == nil || errors.Is(err, git.NoErrAlreadyUpToDate):
			ref, err := repo.Reference(remote, true)
			if err != nil {
				return nil, err
			}
			return repo.CommitObject(ref.Hash())
		case isNoSuchRef(err):
			continue
		default:
			return nil, (&Repo{url: c.url, branch: b, creds: c.creds}).wrap("fetching", err)
		}
	}
	return nil, fmt.Errorf("neither %s nor %s exists", branch, base)
}

// build makes the commit: parent's tree with the file edited.
func (c *FileCommitter) build(repo *git.Repository, parent *object.Commit, file, message string, edit func([]byte) ([]byte, error)) (plumbing.Hash, error) {
	root, err := parent.Tree()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	f, err := root.File(file)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%s: %w", file, err)
	}
	rd, err := f.Reader()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	old, err := io.ReadAll(rd)
	rd.Close()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	next, err := edit(old)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if string(next) == string(old) {
		return plumbing.ZeroHash, ErrNothingToChange
	}
	blob, err := writeBlob(repo, next)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tree, err := replaceBlob(repo, root, strings.Split(path.Clean(file), "/"), blob)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sig := object.Signature{Name: "berth (" + c.agent + ")", Email: "berth@" + c.agent, When: time.Now()}
	commit := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: []plumbing.Hash{parent.Hash}}
	if c.Key != nil {
		if err := signSSH(commit, c.Key); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	obj := repo.Storer.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}

// replaceBlob stores a copy of tree with the file at parts pointing to
// blob (its mode kept) and returns the new tree's hash.
func replaceBlob(repo *git.Repository, tree *object.Tree, parts []string, blob plumbing.Hash) (plumbing.Hash, error) {
	entries := make([]object.TreeEntry, len(tree.Entries))
	copy(entries, tree.Entries)
	for i, e := range entries {
		if e.Name != parts[0] {
			continue
		}
		if len(parts) == 1 {
			if e.Mode == filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is a folder", e.Name)
			}
			entries[i].Hash = blob
			return writeTreeObject(repo, entries)
		}
		sub, err := object.GetTree(repo.Storer, e.Hash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		h, err := replaceBlob(repo, sub, parts[1:], blob)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries[i].Hash = h
		return writeTreeObject(repo, entries)
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: not found", strings.Join(parts, "/"))
}

// signSSH signs a commit the way git does with gpg.format=ssh: an SSH
// signature (namespace "git") over the commit encoded without one.
func signSSH(c *object.Commit, key ssh.Signer) error {
	payload := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(payload); err != nil {
		return err
	}
	r, err := payload.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	sig, err := sshsig.Sign(r, key, sshsig.HashSHA512, sshNamespace)
	if err != nil {
		return fmt.Errorf("signing the commit: %w", err)
	}
	c.PGPSignature = string(sshsig.Armor(sig))
	return nil
}

// LoadSigningKey reads an unencrypted SSH private key (--update-signing-key).
func LoadSigningKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--update-signing-key: %w", err)
	}
	k, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("--update-signing-key %s: %w (an unencrypted OpenSSH private key)", path, err)
	}
	return k, nil
}
