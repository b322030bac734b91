package gitops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrRevisionNotFound means a revision does not name a commit in the clone.
var ErrRevisionNotFound = errors.New("revision not found")

// LoadRevision renders the config at a revision of the local clone in dir,
// without the network and without touching the work tree: the commit's
// tree is written to a temporary folder (ciphertext only: secret files stay
// encrypted), loaded, and removed. It returns the full commit hash.
func LoadRevision(dir, rev, sub string, o LoadOptions) (*Desired, string, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, "", fmt.Errorf("opening the git repo at %s: %w", dir, err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q in %s", ErrRevisionNotFound, rev, dir)
	}
	commit, err := repo.CommitObject(*h)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q is not a commit", ErrRevisionNotFound, rev)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, "", fmt.Errorf("reading the tree of %s: %w", rev, err)
	}
	tmp, err := os.MkdirTemp("", "berth-plan-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(tmp)
	if err := writeTree(tree, tmp); err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", rev, err)
	}
	d, err := LoadWith(tmp, sub, o)
	if err != nil {
		return nil, "", err
	}
	return d, h.String(), nil
}

func writeTree(tree *object.Tree, root string) error {
	return tree.Files().ForEach(func(f *object.File) error {
		p := filepath.Join(root, filepath.FromSlash(f.Name))
		if !filepath.IsLocal(f.Name) {
			return fmt.Errorf("unsafe path %q in the tree", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		if f.Mode == filemode.Symlink {
			target, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			return os.Symlink(string(target), p)
		}
		mode := os.FileMode(0o644)
		if f.Mode == filemode.Executable {
			mode = 0o755
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, r); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	})
}
