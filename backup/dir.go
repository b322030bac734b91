package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Dir is a backup target on the local file system (--backup-dir). Each
// file is written to a temporary name, synced and renamed: an
// interrupted backup never leaves a snapshot that looks complete.
type Dir struct{ Root string }

func (d Dir) String() string { return d.Root }

// Put writes the sealed snapshot, then its manifest.
func (d Dir) Put(_ context.Context, m Manifest, seal func(w io.Writer) (Sum, error)) (Manifest, error) {
	final, err := d.path(m.Object)
	if err != nil {
		return m, err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return m, fmt.Errorf("backup dir: %w", err)
	}
	if err := d.write(final, func(w io.Writer) (err error) {
		m.Sum, err = seal(w)
		return err
	}); err != nil {
		return m, fmt.Errorf("writing the snapshot: %w", err)
	}
	b, err := encodeManifest(m)
	if err == nil {
		err = d.write(manifestName(final), func(w io.Writer) error { _, err := w.Write(b); return err })
	}
	if err != nil {
		os.Remove(final)
		return m, fmt.Errorf("writing the snapshot's manifest: %w", err)
	}
	return m, nil
}

// write fills a temporary file beside final and renames it into place.
func (d Dir) write(final string, fill func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(final), ".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone once renamed; removed when anything failed
	err = fill(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	return err
}

// path is an object's file; an absolute path inside Root (as the first
// releases recorded) is accepted too.
func (d Dir) path(object string) (string, error) {
	rel := filepath.FromSlash(object)
	if filepath.IsAbs(rel) {
		var err error
		if rel, err = filepath.Rel(d.Root, rel); err != nil {
			return "", fmt.Errorf("snapshot %s is not in the backup dir %s", object, d.Root)
		}
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("snapshot %s is not in the backup dir %s", object, d.Root)
	}
	return filepath.Join(d.Root, rel), nil
}

// Open opens a snapshot Put wrote.
func (d Dir) Open(_ context.Context, object string) (io.ReadCloser, error) {
	p, err := d.path(object)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Remove deletes a snapshot and its manifest; a missing one is no error.
func (d Dir) Remove(_ context.Context, object string) error {
	p, err := d.path(object)
	if err != nil {
		return err
	}
	for _, f := range []string{manifestName(p), p} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// List reads the manifests under Root.
func (d Dir) List(_ context.Context, known func(object string) bool) ([]Manifest, error) {
	var out []Manifest
	var bad []error
	err := filepath.WalkDir(d.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == d.Root {
				return fs.SkipAll
			}
			return err
		}
		if e.IsDir() || !isManifest(e.Name()) {
			return nil
		}
		rel, err := filepath.Rel(d.Root, p)
		if err != nil {
			return err
		}
		if known != nil && known(strings.TrimSuffix(filepath.ToSlash(rel), manifestExt)) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m, err := decodeManifest(filepath.ToSlash(rel), b)
		if err != nil {
			bad = append(bad, err) // one broken manifest hides no other snapshot
			return nil
		}
		out = append(out, m)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, errors.Join(append(bad, err)...)
}
