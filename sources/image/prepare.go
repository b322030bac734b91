package image

import (
	"context"
	"log/slog"
)

// puller is what preparing an image needs from Docker.
type puller interface {
	ImageID(ctx context.Context, ref string) (string, error)
	Pull(ctx context.Context, ref string) error
}

// Prepare makes the workload's image present on the host per its pull
// policy and returns the reference to run.
func Prepare(ctx context.Context, docker puller, c *Config, log *slog.Logger) (string, error) {
	ref := c.Ref()
	if c.PullPolicy() == PullIfNotPresent {
		id, err := docker.ImageID(ctx, ref)
		if err != nil {
			return "", err
		}
		if id != "" {
			return ref, nil
		}
	}
	log.Info("pulling image", "image", shortRef(ref))
	if err := docker.Pull(ctx, ref); err != nil {
		return "", err
	}
	return ref, nil
}
