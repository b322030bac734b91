package gitops

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berthops/berth/sources"
)

// Resolve turns a path from a workload file, relative to the file's folder
// dir, into a path relative to the config root, and checks that it stays
// inside the checkout: no "..", no absolute path, no symlink that leaves.
// Every path the repo names goes through it.
func Resolve(root *os.Root, dir, p string) (string, error) {
	if p == "" {
		return "", errors.New("is empty")
	}
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return "", fmt.Errorf("%q must be relative to the workload file's folder", p)
	}
	rel := path.Join(dir, p)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%q leaves the config repo", p)
	}
	if _, err := root.Stat(rel); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%q does not exist", p)
		}
		return "", fmt.Errorf("%q leaves the config repo or cannot be read", p)
	}
	return rel, nil
}

// resolvePaths resolves every path the workload's source names, hashes
// what is there, and lets the source check file contents. A path inside a
// folder that already failed is not reported again.
func (l *loader) resolvePaths(dec *decoder, w *sources.Workload) {
	pr, ok := w.Source.(sources.PathReferrer)
	if !ok {
		return
	}
	var failed []string
	for _, p := range pr.Paths() {
		if insideAny(p.Value, failed) {
			continue
		}
		rel, err := Resolve(l.root, w.Dir, p.Value)
		if err != nil {
			dec.errorf(p.Field, dec.at(p.Field), "%v", err)
			failed = append(failed, p.Value)
			continue
		}
		p.Resolved = rel
		sum, err := contentHash(l.fsys, rel)
		if err != nil {
			dec.errorf(p.Field, dec.at(p.Field), "reading %q: %v", p.Value, err)
			continue
		}
		w.SetContentHash(p.Field, sum)
		if fc, ok := w.Source.(sources.FileChecker); ok {
			if data, err := l.readFile(rel); err == nil {
				if err := fc.CheckFile(p.Field, data); err != nil {
					dec.errorf(p.Field, dec.at(p.Field), "%v", err)
				}
			}
		}
	}
}

func insideAny(p string, folders []string) bool {
	for _, f := range folders {
		if strings.HasPrefix(p, f+"/") {
			return true
		}
	}
	return false
}

// contentHash hashes a file or a folder tree in the config repo: every
// path, mode and byte, in a fixed order. It changes exactly when what a
// build or a site would see changes, whatever else the commit touched.
func contentHash(fsys fs.FS, root string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", p, info.Mode())
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
