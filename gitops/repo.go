// Package gitops pulls the config repo, renders it into desired workloads,
// and works out what changed.
package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/berthops/berth/internal/atomicfile"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/internal/secretfile"
)

// ErrBranchNotFound means the remote has no such branch: a person must fix
// the flag or push the branch.
var ErrBranchNotFound = errors.New("branch not found")

// Credentials are read from files, never from flags.
type Credentials struct {
	Username     string // for http(s); default "git"
	PasswordFile string // http(s) password or token
	SSHKeyFile   string // private key for ssh:// and scp-style URLs
	KnownHosts   string // known_hosts file; default ~/.ssh/known_hosts
}

// Repo is the local clone of the config repo (or of an app repo).
type Repo struct {
	url    string
	branch string
	dir    string
	creds  Credentials
	// Failpoint, when set, is called at FailAfterCheckout (crash tests).
	Failpoint func(fault.Step)
	// Signers, when set, must have signed the branch tip: an unverified
	// tip is never checked out (Pull returns an *UnverifiedError).
	Signers *Signers
}

// NewRepo returns a Repo that clones url's branch into dir. A plain local
// path is made absolute.
func NewRepo(rawURL, branch, dir string, creds Credentials) (*Repo, error) {
	if rawURL == "" {
		return nil, errors.New("--repo is required")
	}
	if branch == "" {
		branch = "main"
	}
	if isLocalPath(rawURL) {
		abs, err := filepath.Abs(rawURL)
		if err != nil {
			return nil, fmt.Errorf("repo path %s: %w", rawURL, err)
		}
		rawURL = abs
	}
	return &Repo{url: rawURL, branch: branch, dir: dir, creds: creds}, nil
}

var scpLike = regexp.MustCompile(`^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:`)

func isLocalPath(u string) bool {
	return !strings.Contains(u, "://") && !scpLike.MatchString(u)
}

// Dir is the checkout folder.
func (r *Repo) Dir() string { return r.dir }

// URL is the remote URL with any credentials removed, safe to log.
func (r *Repo) URL() string { return RedactURL(r.url) }

// Branch is the watched branch.
func (r *Repo) Branch() string { return r.branch }

// RedactURL removes a password or token from a URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return u.String()
}

// Pull brings the checkout to the tip of the branch and returns that
// commit. A clone dir that is missing, corrupt or cloned from another URL
// is cloned afresh.
func (r *Repo) Pull(ctx context.Context) (string, error) {
	auth, err := r.auth()
	if err != nil {
		return "", err
	}
	repo, err := r.open()
	if err == nil {
		sha, ferr := r.fetch(ctx, repo, auth)
		if ferr == nil || errors.Is(ferr, ErrUnverified) || Classify(ferr) != Local {
			return sha, ferr
		}
		// A failure that did not come from the remote is a broken clone:
		// start again below.
	}
	return r.clone(ctx, auth)
}

// storage is a clone's object store with a small object cache, and blobs
// over 1 MiB streamed from the packfile instead of read into memory: a big
// file in the repo costs a copy buffer, not its size.
func storage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(filepath.Join(dir, ".git")), cache.NewObjectLRU(8*cache.MiByte),
		filesystem.Options{LargeObjectThreshold: 1 << 20})
}

func (r *Repo) open() (*git.Repository, error) {
	if _, err := os.Stat(filepath.Join(r.dir, ".git")); err != nil {
		return nil, err
	}
	repo, err := git.Open(storage(r.dir), osfs.New(r.dir))
	if err != nil {
		return nil, err
	}
	remote, err := repo.Remote("origin")
	if err != nil {
		return nil, err
	}
	if urls := remote.Config().URLs; len(urls) == 0 || urls[0] != r.url {
		return nil, errors.New("clone points at another URL")
	}
	return repo, nil
}

func (r *Repo) fetch(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) (string, error) {
	remoteRef := plumbing.NewRemoteReferenceName("origin", r.branch)
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", r.branch, remoteRef))},
		Auth:       auth,
		Force:      true,
		Tags:       git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", r.wrap("fetching", err)
	}
	ref, err := repo.Reference(remoteRef, true)
	if err != nil {
		return "", fmt.Errorf("%w: %q in %s", ErrBranchNotFound, r.branch, r.URL())
	}
	if err := r.verify(repo, ref.Hash()); err != nil {
		return r.keep(repo, err)
	}
	if err := r.checkout(repo, ref.Hash()); err != nil {
		return "", err
	}
	return ref.Hash().String(), nil
}

// verify checks h's signature when signers are configured.
func (r *Repo) verify(repo *git.Repository, h plumbing.Hash) error {
	if r.Signers == nil {
		return nil
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", short(h.String()), err)
	}
	if sig := r.Signers.Check(c); !sig.Verified {
		return &UnverifiedError{Signature: sig}
	}
	return nil
}

// keep leaves the checkout where it is after the tip failed verification.
// The kept commit is checked again, so turning --trusted-signers on over an
// old clone never runs what an untrusted commit left there.
func (r *Repo) keep(repo *git.Repository, err error) (string, error) {
	var uv *UnverifiedError
	if !errors.As(err, &uv) {
		return "", err
	}
	kept := r.checkedOut()
	if kept != "" && r.verify(repo, plumbing.NewHash(kept)) == nil {
		if head, herr := repo.Head(); herr == nil && head.Hash().String() == kept {
			uv.Kept = kept
		}
	}
	return uv.Kept, uv
}

// checkout brings the work tree to h. A checkout is done only when the
// marker names h: go-git moves HEAD before it writes the files, so a
// crash (or a full disk) in the middle leaves HEAD at h and the files
// half written; with the marker still at the old commit the next pull
// checks out again instead of reading a torn tree as the new commit.
func (r *Repo) checkout(repo *git.Repository, h plumbing.Hash) error {
	if r.checkedOut() == h.String() {
		if head, err := repo.Head(); err == nil && head.Hash() == h {
			return nil
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("opening worktree: %w", err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: h, Mode: git.HardReset}); err != nil {
		return fmt.Errorf("checking out %s: %w", h.String()[:12], err)
	}
	if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return fmt.Errorf("cleaning the checkout of %s: %w", h.String()[:12], err)
	}
	r.failpoint(fault.FailAfterCheckout)
	return r.markCheckedOut(r.dir, h)
}

// markerName is the file, inside the clone's .git, that names the commit
// of the last completed checkout.
const markerName = "berth-checkout"

// CheckedOut is the commit of the last completed checkout, "" when there
// is none: what an unreachable remote leaves to build from.
func (r *Repo) CheckedOut() string { return r.checkedOut() }

func (r *Repo) checkedOut() string {
	b, err := os.ReadFile(filepath.Join(r.dir, ".git", markerName))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (r *Repo) markCheckedOut(dir string, h plumbing.Hash) error {
	if err := atomicfile.Write(filepath.Join(dir, ".git", markerName), []byte(h.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("recording the checkout of %s: %w", h.String()[:12], err)
	}
	return nil
}

func (r *Repo) failpoint(step fault.Step) {
	if r.Failpoint != nil {
		r.Failpoint(step)
	}
}

func (r *Repo) clone(ctx context.Context, auth transport.AuthMethod) (string, error) {
	tmp := r.dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("clearing %s: %w", tmp, err)
	}
	if err := os.MkdirAll(filepath.Dir(r.dir), 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(r.dir), err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, ".git"), 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", tmp, err)
	}
	repo, err := git.CloneContext(ctx, storage(tmp), osfs.New(tmp), &git.CloneOptions{
		URL:           r.url,
		Auth:          auth,
		RemoteName:    "origin",
		ReferenceName: plumbing.NewBranchReferenceName(r.branch),
		SingleBranch:  true,
		Tags:          git.NoTags,
	})
	if err != nil {
		_ = os.RemoveAll(tmp)
		if errors.Is(err, plumbing.ErrReferenceNotFound) || errors.Is(err, git.NoMatchingRefSpecError{}) {
			return "", fmt.Errorf("%w: %q in %s", ErrBranchNotFound, r.branch, r.URL())
		}
		return "", r.wrap("cloning", err)
	}
	head, err := repo.Head()
	if err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("reading HEAD of the new clone: %w", err)
	}
	verr := r.verify(repo, head.Hash())
	if verr == nil {
		if err := r.markCheckedOut(tmp, head.Hash()); err != nil {
			_ = os.RemoveAll(tmp)
			return "", err
		}
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return "", fmt.Errorf("clearing %s: %w", r.dir, err)
	}
	if err := os.Rename(tmp, r.dir); err != nil {
		return "", fmt.Errorf("moving clone into place: %w", err)
	}
	if verr != nil {
		return "", verr // no marker: nothing verified to run yet
	}
	return head.Hash().String(), nil
}

// wrap names the remote (without credentials), never echoes a URL that
// carries a password, and keeps the cause for Classify.
func (r *Repo) wrap(op string, err error) error {
	msg := err.Error()
	if r.url != RedactURL(r.url) {
		msg = strings.ReplaceAll(msg, r.url, RedactURL(r.url))
	}
	if r.creds.PasswordFile != "" {
		if pw, rerr := secretfile.Read(r.creds.PasswordFile); rerr == nil && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "***")
		}
	}
	return &RemoteError{Op: op, URL: r.URL(), Branch: r.branch, Msg: msg, Class: Classify(err), err: err}
}

func (r *Repo) auth() (transport.AuthMethod, error) {
	lower := strings.ToLower(r.url) // schemes are case-insensitive
	switch {
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		if r.creds.PasswordFile == "" {
			return nil, nil
		}
		if u, err := url.Parse(r.url); err == nil && u.Scheme == "http" && !loopback(u) {
			return nil, fmt.Errorf("refusing to send a password over plain http to %s: use https", u.Host)
		}
		pw, err := secretfile.Read(r.creds.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("git password file: %w", err)
		}
		user := r.creds.Username
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: pw}, nil
	case strings.HasPrefix(lower, "ssh://") || scpLike.MatchString(r.url):
		if r.creds.SSHKeyFile == "" {
			return nil, nil // go-git falls back to the SSH agent
		}
		user := "git"
		if u, err := url.Parse(r.url); err == nil && u.User != nil {
			user = u.User.Username()
		} else if i := strings.IndexByte(r.url, '@'); i > 0 && !strings.Contains(r.url, "://") {
			user = r.url[:i]
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, r.creds.SSHKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("ssh key file %s: %w", r.creds.SSHKeyFile, err)
		}
		if r.creds.KnownHosts != "" {
			cb, err := gitssh.NewKnownHostsCallback(r.creds.KnownHosts)
			if err != nil {
				return nil, fmt.Errorf("known hosts file %s: %w", r.creds.KnownHosts, err)
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	}
	return nil, nil
}

// RepoFromURL guesses owner/name from a clone URL
// (https://host/owner/name.git → owner/name).
func RepoFromURL(raw string) string {
	p := raw
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		p = u.Path
	} else if i := strings.Index(raw, ":"); i > 0 && scpLike.MatchString(raw) {
		p = raw[i+1:]
	}
	return strings.TrimSuffix(strings.Trim(p, "/"), ".git")
}
