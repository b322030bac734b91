package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Heads lists the branches of the config repo's origin, name → commit:
// the candidates of branch previews. One remote call.
func (r *Repo) Heads(ctx context.Context) (map[string]string, error) {
	repo, err := r.open()
	if err != nil {
		return nil, fmt.Errorf("opening the clone: %w", err)
	}
	auth, err := r.auth()
	if err != nil {
		return nil, err
	}
	remote, err := repo.Remote("origin")
	if err != nil {
		return nil, err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return nil, r.wrap("listing branches", err)
	}
	out := map[string]string{}
	for _, ref := range refs {
		if name, ok := strings.CutPrefix(ref.Name().String(), "refs/heads/"); ok && ref.Type() == plumbing.HashReference {
			out[name] = ref.Hash().String()
		}
	}
	return out, nil
}

// FetchHead fetches ref (refs/heads/x, refs/pull/N/head) from origin into
// the clone as refs/berth/preview/<slug> and returns its commit. A
// signature is checked as for the watched branch when signers are set.
func (r *Repo) FetchHead(ctx context.Context, ref, slug string) (string, error) {
	repo, err := r.open()
	if err != nil {
		return "", fmt.Errorf("opening the clone: %w", err)
	}
	auth, err := r.auth()
	if err != nil {
		return "", err
	}
	local := plumbing.ReferenceName("refs/berth/preview/" + slug)
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec("+" + ref + ":" + local.String())},
		Auth:       auth, Force: true, Tags: git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", r.wrap("fetching "+ref, err)
	}
	got, err := repo.Reference(local, true)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", ref, err)
	}
	if err := r.verify(repo, got.Hash()); err != nil {
		return "", err
	}
	return got.Hash().String(), nil
}

// DropHead forgets a preview's fetched head.
func (r *Repo) DropHead(slug string) {
	if repo, err := r.open(); err == nil {
		_ = repo.Storer.RemoveReference(plumbing.ReferenceName("refs/berth/preview/" + slug))
	}
}

// CommitTime is when sha was committed (zero when unknown).
func (r *Repo) CommitTime(sha string) time.Time {
	repo, err := r.open()
	if err != nil {
		return time.Time{}
	}
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return time.Time{}
	}
	return c.Committer.When
}

// Export writes the tree of commit sha into dir (replaced): a preview's
// files, beside the watched branch's checkout, never over it.
func (r *Repo) Export(sha, dir string) error {
	repo, err := r.open()
	if err != nil {
		return fmt.Errorf("opening the clone: %w", err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", short(sha), err)
	}
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("reading the tree of %s: %w", short(sha), err)
	}
	tmp := dir + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	err = tree.Files().ForEach(func(f *object.File) error { return writeTreeFile(tmp, f) })
	if err == nil {
		err = os.MkdirAll(tmp, 0o755)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("writing the files of %s: %w", short(sha), err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

func writeTreeFile(root string, f *object.File) error {
	p := filepath.Join(root, filepath.FromSlash(f.Name))
	if !filepath.IsLocal(f.Name) {
		return fmt.Errorf("%q leaves the tree", f.Name)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if f.Mode == filemode.Symlink {
		target, err := f.Contents()
		if err != nil {
			return err
		}
		return os.Symlink(target, p)
	}
	if f.Mode == filemode.Submodule {
		return nil
	}
	perm := os.FileMode(0o644)
	if f.Mode == filemode.Executable {
		perm = 0o755
	}
	rc, err := f.Reader()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
