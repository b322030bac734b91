package docker

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// volumeMount is where a backup's helper container mounts the volume.
const volumeMount = "/berth-volume"

// VolumeTar streams a named volume's content as a tar (paths relative to
// the volume's root), read through Docker's archive API from a container
// of image that mounts the volume and is never started: no tool is needed
// in any image. done removes the helper; call it once the stream is read.
func (d *Client) VolumeTar(ctx context.Context, volume, image string, labels map[string]string) (tarball io.ReadCloser, done func(), err error) {
	id, err := d.volumeHelper(ctx, volume, image, labels)
	if err != nil {
		return nil, nil, err
	}
	done = func() { d.removeHelper(context.WithoutCancel(ctx), id) }
	rc, _, err := d.cli.CopyFromContainer(ctx, id, volumeMount+"/.")
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("reading volume %s: %w", volume, err)
	}
	return rc, done, nil
}

// VolumeUntar writes a tar into a named volume (created, with labels,
// when missing) through the same kind of never-started container.
func (d *Client) VolumeUntar(ctx context.Context, volume, image string, labels map[string]string, tarball io.Reader) error {
	if err := d.ensureVolume(ctx, volume, labels); err != nil {
		return err
	}
	id, err := d.volumeHelper(ctx, volume, image, labels)
	if err != nil {
		return err
	}
	defer d.removeHelper(context.WithoutCancel(ctx), id)
	if err := d.cli.CopyToContainer(ctx, id, volumeMount, tarball, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("writing volume %s: %w", volume, err)
	}
	return nil
}

// volumeHelper creates (never starts) a container of image that mounts
// volume: it carries no network and is labelled as a task, so the agent's
// snapshot does not take it for a workload's.
func (d *Client) volumeHelper(ctx context.Context, volume, image string, labels map[string]string) (string, error) {
	l := map[string]string{LabelTask: "backup " + volume}
	for _, k := range []string{LabelAgent, LabelState} {
		if v, ok := labels[k]; ok {
			l[k] = v
		}
	}
	cctx, cancel := d.call(ctx, 0)
	defer cancel()
	created, err := d.cli.ContainerCreate(cctx, &container.Config{Image: image, Labels: l, Entrypoint: []string{"/none"}},
		&container.HostConfig{NetworkMode: "none", Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: volume, Target: volumeMount}}}, nil, nil, "")
	if err != nil {
		return "", fmt.Errorf("a helper container for volume %s: %w", volume, err)
	}
	return created.ID, nil
}

func (d *Client) removeHelper(ctx context.Context, id string) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	_ = d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
}

// Pause freezes a container's processes (consistency: pause of a backup).
func (d *Client) Pause(ctx context.Context, id string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	return d.cli.ContainerPause(ctx, id)
}

// Unpause lets a paused container run again.
func (d *Client) Unpause(ctx context.Context, id string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	return d.cli.ContainerUnpause(ctx, id)
}
