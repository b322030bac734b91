package dockerfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berthops/berth/sources"
)

// builder is what building needs from Docker.
type builder interface {
	HasImage(ctx context.Context, ref string) (bool, error)
	Build(ctx context.Context, buildCtx io.Reader, spec sources.BuildSpec, out func(line string)) error
}

// Prepare builds the workload's image from the context folder dir, tagged
// berth/<app>-<name>:<hash>, unless that tag is already on the host (the
// hash covers the context's content, the app repo's commit and the build
// settings, so an unchanged workload never rebuilds). Build output goes to
// the debug log.
func Prepare(ctx context.Context, b builder, w *sources.Workload, c *Config, dir string, log *slog.Logger) (string, error) {
	tag := sources.BuiltTag(w)
	if ok, err := b.HasImage(ctx, tag); err != nil || ok {
		return tag, err
	}
	if _, err := os.Stat(filepath.Join(dir, c.DockerfileName())); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("no %s in the build context", c.DockerfileName())
		}
		return "", err
	}
	tar, err := sources.ContextTar(dir, c.DockerfileName())
	if err != nil {
		return "", err
	}
	defer tar.Close()
	log.Info("building image", "tag", tag)
	err = b.Build(ctx, tar, sources.BuildSpec{Tag: tag, Dockerfile: c.DockerfileName(), BuildArgs: c.BuildArgs, Target: c.Target},
		func(line string) { log.Debug("build output", "line", line) })
	if err != nil {
		return "", err
	}
	return tag, nil
}
