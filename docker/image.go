package docker

import (
	"context"
	"fmt"
	"io"
	"sort"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Image is what Berth reads of a local image.
type Image struct {
	ID      string
	Digest  string   // the registry digest (repo@sha256:...), "" for a local build
	Env     []string // the image's own ENV
	Volumes []string // the paths its VOLUME lines declare, sorted
}

// InspectImage returns a local image; ok is false when ref is not on the
// host.
func (d *Client) InspectImage(ctx context.Context, ref string) (img Image, ok bool, err error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	info, err := d.cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return Image{}, false, nil
	}
	if err != nil {
		return Image{}, false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	img.ID = info.ID
	if len(info.RepoDigests) > 0 {
		img.Digest = info.RepoDigests[0]
	}
	if info.Config != nil {
		img.Env = info.Config.Env
		for v := range info.Config.Volumes {
			img.Volumes = append(img.Volumes, v)
		}
		sort.Strings(img.Volumes)
	}
	return img, true, nil
}

// Pull pulls ref and waits for the pull to finish. Errors the daemon
// reports inside the progress stream are returned too.
func (d *Client) Pull(ctx context.Context, ref string) error {
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: d.registryAuth(ref)})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// ImagesByRef lists the local images whose tag matches reference (a
// Docker reference filter such as "berth/shop-web:*"), by id.
func (d *Client) ImagesByRef(ctx context.Context, reference string) ([]string, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	list, err := d.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", reference))})
	if err != nil {
		return nil, fmt.Errorf("listing images %s: %w", reference, err)
	}
	ids := make([]string, 0, len(list))
	for _, img := range list {
		ids = append(ids, img.ID)
	}
	return ids, nil
}

// RemoveImage removes an image Berth made: the tags owned says are
// Berth's, and then the image itself when no other tag is left. An image
// that any container (of any agent, in any state) uses is left alone, as
// is one someone else tagged. It reports whether the image is gone.
func (d *Client) RemoveImage(ctx context.Context, id string, owned func(ref string) bool) (bool, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	info, err := d.cli.ImageInspect(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspecting image %s: %w", ShortID(id), err)
	}
	users, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("ancestor", info.ID))})
	if err != nil {
		return false, fmt.Errorf("listing the users of image %s: %w", ShortID(id), err)
	}
	if len(users) > 0 {
		return false, nil
	}
	for _, tag := range info.RepoTags {
		if !owned(tag) {
			return false, nil
		}
	}
	for _, tag := range info.RepoTags {
		if _, err := d.cli.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return false, fmt.Errorf("removing image %s: %w", tag, err)
		}
	}
	if _, err := d.cli.ImageRemove(ctx, info.ID, image.RemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return false, fmt.Errorf("removing image %s: %w", ShortID(id), err)
	}
	return true, nil
}

// PruneBuildCache removes the build cache no image uses.
func (d *Client) PruneBuildCache(ctx context.Context) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if _, err := d.cli.BuildCachePrune(ctx, build.CachePruneOptions{}); err != nil {
		return fmt.Errorf("pruning the build cache: %w", err)
	}
	return nil
}
