package image

import (
	"context"

	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

var _ sources.ImageSource = (*Config)(nil)

// Prepare makes the workload's image present on the host per its pull
// policy and returns the reference to run.
func (c *Config) Prepare(ctx context.Context, env sources.PrepareEnv, _ *sources.Workload) (sources.Prepared, error) {
	ref := c.Ref()
	if c.PullPolicy() == PullIfNotPresent {
		_, ok, err := env.Docker.InspectImage(ctx, ref)
		if err != nil {
			return sources.Prepared{}, err
		}
		if ok {
			return sources.Prepared{Image: ref}, nil
		}
	}
	env.Log.Info("pulling image", "image", shortRef(ref))
	if err := fault.Deadline(ctx, env.Timeouts.Pull, "--pull-timeout", func(ctx context.Context) error { return env.Docker.Pull(ctx, ref) }); err != nil {
		return sources.Prepared{}, err
	}
	return sources.Prepared{Image: ref, Pulled: true}, nil
}
