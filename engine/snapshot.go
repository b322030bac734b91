package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxSnapshot bounds the size of a compose folder Berth keeps a copy of.
const MaxSnapshot = 64 << 20

// Snapshot copies the folder of a compose file (the file and what it uses
// beside it: env files, configs, build contexts) into the state dir, as
// <Dir>/<project>/<hash>/, and returns the copy of the file. A failed
// deploy re-ups the last good snapshot; a rollback ups an older one.
// Symlinks are not followed: the copy holds only what is inside the folder.
func (s *Compose) Snapshot(project, hash, file string) (string, error) {
	dst := s.snapshotDir(project, hash)
	if _, err := os.Stat(dst); err == nil {
		return filepath.Join(dst, filepath.Base(file)), nil // the same content: already kept
	}
	tmp := dst + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := copyTree(filepath.Dir(file), tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("keeping a copy of the compose project: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("keeping a copy of the compose project: %w", err)
	}
	return filepath.Join(dst, filepath.Base(file)), nil
}

// SnapshotFile is the kept copy of the compose file named base for hash,
// "" when there is none.
func (s *Compose) SnapshotFile(project, hash, base string) string {
	p := filepath.Join(s.snapshotDir(project, hash), base)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Forget removes the snapshots of project other than keep (hashes); with
// no keep it removes the project's folder.
func (s *Compose) Forget(project string, keep ...string) error {
	dir := filepath.Join(s.Dir, project)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, h := range keep {
		kept[filepath.Base(s.snapshotDir(project, h))] = true
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() && !kept[e.Name()] {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	if len(keep) == 0 {
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}

func (s *Compose) snapshotDir(project, hash string) string {
	if len(hash) > 16 {
		hash = hash[:16]
	}
	return filepath.Join(s.Dir, project, hash)
}

// copyTree copies the regular files and folders under src into dst
// (which must not exist), at most MaxSnapshot bytes.
func copyTree(src, dst string) error {
	root, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer root.Close()
	var total int64
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil // symlinks and devices stay behind
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if total += info.Size(); total > MaxSnapshot {
			return fmt.Errorf("the compose folder is larger than %d MiB", MaxSnapshot>>20)
		}
		in, err := root.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	})
}
