package dockerfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

var _ sources.ImageSource = (*Config)(nil)

// Prepare builds the workload's image from its context folder (in the
// config repo, or the app repo's checkout), tagged
// berth/<app>-<name>:<hash>, unless that tag is already on the host (the
// hash covers the context's content, the app repo's commit and the build
// settings, so an unchanged workload never rebuilds). Build output goes to
// the debug log.
func (c *Config) Prepare(ctx context.Context, env sources.PrepareEnv, w *sources.Workload) (sources.Prepared, error) {
	tag := sources.BuiltTag(w)
	if _, ok, err := env.Docker.InspectImage(ctx, tag); err != nil || ok {
		return sources.Prepared{Image: tag}, err
	}
	dir, err := c.contextDir(env)
	if err != nil {
		return sources.Prepared{}, err
	}
	if _, err := os.Stat(filepath.Join(dir, c.DockerfileName())); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return sources.Prepared{}, fmt.Errorf("no %s in the build context", c.DockerfileName())
		}
		return sources.Prepared{}, err
	}
	tar, err := docker.ContextTar(dir, c.DockerfileName())
	if err != nil {
		return sources.Prepared{}, err
	}
	defer tar.Close()
	env.Log.Info("building image", "tag", tag)
	spec := docker.BuildSpec{Tag: tag, Dockerfile: c.DockerfileName(), BuildArgs: c.BuildArgs, Target: c.Target}
	build := func(ctx context.Context) error {
		return env.Docker.Build(ctx, tar, spec, func(line string) { env.Log.Debug("build output", "line", line) })
	}
	if err := fault.Deadline(ctx, env.Timeouts.Build, "--build-timeout", build); err != nil {
		return sources.Prepared{}, err
	}
	return sources.Prepared{Image: tag}, nil
}

// contextDir is the build context on disk: the app repo's checkout, or
// the context folder in the config repo.
func (c *Config) contextDir(env sources.PrepareEnv) (string, error) {
	if c.Git == nil {
		return filepath.Join(env.Root, filepath.FromSlash(c.context.Resolved)), nil
	}
	if env.App == nil || env.App.Dir == "" {
		return "", fmt.Errorf("the app repo %s is not checked out", c.Git.URL)
	}
	return env.App.Dir, nil
}
