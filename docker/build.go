package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/moby/go-archive"
	"github.com/moby/patternmatcher/ignorefile"
)

// BuildSpec is an image build.
type BuildSpec struct {
	Tag        string
	Dockerfile string // path inside the context; default "Dockerfile"
	BuildArgs  map[string]string
	Target     string
}

// ContextTar streams dir as a build context, leaving out what its
// .dockerignore excludes (the Dockerfile and .dockerignore always go in, as
// with the docker CLI). Symlinks are sent as links, never followed.
func ContextTar(dir, dockerfile string) (io.ReadCloser, error) {
	var excludes []string
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	switch {
	case err == nil:
		excludes, err = ignorefile.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading .dockerignore: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	excludes = append(excludes, "!"+dockerfile, "!.dockerignore")
	rc, err := archive.TarWithOptions(dir, &archive.TarOptions{ExcludePatterns: excludes})
	if err != nil {
		return nil, fmt.Errorf("packing build context %s: %w", dir, err)
	}
	return rc, nil
}

// TarFile is one file of a generated build context: Data, or the file at
// Path (streamed from disk).
type TarFile struct {
	Name string
	Mode int64
	Data []byte
	Path string
}

// TarDir streams files and the regular files under dir (placed under
// prefix) as a build context: no more than a copy buffer is held in
// memory, whatever the size of the site. Modes are kept, times are fixed
// so the same content gives the same layers. Close the reader when done
// (a build that stops early stops the writer); a read error names the
// file.
func TarDir(files []TarFile, dir, prefix string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, files, dir, prefix)) }()
	return pr
}

func writeTar(w io.Writer, files []TarFile, dir, prefix string) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		if f.Path != "" {
			if err := tarFile(tw, f.Name, f.Mode, func() (*os.File, error) { return os.Open(f.Path) }); err != nil {
				return err
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: f.Mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if dir != "" {
		if err := tarTree(tw, dir, prefix); err != nil {
			return err
		}
	}
	return tw.Close()
}

// tarTree adds the regular files under dir, in name order, never leaving
// dir (symlinks are not followed out of it).
func tarTree(tw *tar.Writer, dir, prefix string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer root.Close()
	var names []string
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	sort.Strings(names)
	for _, p := range names {
		if err := tarFile(tw, path.Join(prefix, p), 0o644, func() (*os.File, error) { return root.Open(p) }); err != nil {
			return err
		}
	}
	return nil
}

// tarFile copies one opened file into the tar, with the size it has when
// opened.
func tarFile(tw *tar.Writer, name string, mode int64, open func() (*os.File, error)) error {
	f, err := open()
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, info.Size()); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// Build builds an image from a context tar and tags it. Each line of build
// output goes to out (nil to drop it); a failed step is returned as an
// error that names the tag and the daemon's message.
func (d *Client) Build(ctx context.Context, buildCtx io.Reader, spec BuildSpec, out func(line string)) error {
	args := map[string]*string{}
	for k, v := range spec.BuildArgs {
		args[k] = &v
	}
	resp, err := d.cli.ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags:        []string{spec.Tag},
		Dockerfile:  spec.Dockerfile,
		BuildArgs:   args,
		Target:      spec.Target,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
		AuthConfigs: d.buildAuths(),
	})
	if err != nil {
		return fmt.Errorf("building %s: %w", spec.Tag, err)
	}
	defer resp.Body.Close()
	w := lineWriter{out: out}
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, &w, 0, false, nil); err != nil {
		return fmt.Errorf("building %s: %w", spec.Tag, err)
	}
	return nil
}

type lineWriter struct {
	out func(string)
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.out == nil {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(w.buf[:i])); line != "" {
			w.out(line)
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
