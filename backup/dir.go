package backup

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Dir is a backup target on the local file system (--backup-dir). A
// snapshot is written to a temporary file, synced and renamed: an
// interrupted backup never leaves a snapshot that looks complete.
type Dir struct{ Root string }

// Put seals one snapshot under Root/<group>/<name>-<time>.tar.zst.age
// (seal writes it) and returns its path.
func (d Dir) Put(group, name string, at time.Time, seal func(w io.Writer) (Sum, error)) (string, Sum, error) {
	dir := filepath.Join(d.Root, group)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", Sum{}, fmt.Errorf("backup dir: %w", err)
	}
	final := filepath.Join(dir, fmt.Sprintf("%s-%s.tar.zst.age", name, at.UTC().Format("20060102T150405.000Z")))
	tmp, err := os.CreateTemp(dir, ".partial-*")
	if err != nil {
		return "", Sum{}, fmt.Errorf("backup dir: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed; removed when anything failed
	sum, err := seal(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		return "", Sum{}, fmt.Errorf("writing the snapshot: %w", err)
	}
	return final, sum, nil
}

// Open opens a snapshot Put wrote.
func (d Dir) Open(location string) (io.ReadCloser, error) {
	rel, err := filepath.Rel(d.Root, location)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("snapshot %s is not in the backup dir %s", location, d.Root)
	}
	return os.Open(location)
}
