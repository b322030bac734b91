package agenttest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/loopback"
)

// EmbeddedRouter starts the in-process Caddy on a free port, with its
// route table in the state dir.
func (h *Harness) EmbeddedRouter() (*router.Router, string) {
	h.T.Helper()
	addr := loopback.FreeAddr(h.T)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: addr, StorageDir: filepath.Join(h.StateDir, "caddy")})
	h.T.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, filepath.Join(h.StateDir, "routes.json"))
	require.NoError(h.T, err)
	require.NoError(h.T, r.Apply(context.Background()))
	return r, addr
}

// Routed is an image workload behind the proxy with a healthcheck.
func Routed(image, host, msg, strategy string, extraEnv ...string) string {
	env := fmt.Sprintf("  MESSAGE: %q\n", msg)
	readyDelay := "  READY_DELAY: 300ms\n"
	for _, e := range extraEnv {
		env += "  " + e + "\n"
		if strings.HasPrefix(e, "READY_DELAY:") {
			readyDelay = "" // the caller's wins: a key twice is an invalid file
		}
	}
	env += readyDelay
	return fmt.Sprintf(`source:
  type: image
  image: %s
  deploy_strategy: %q
env:
%sport: 8080
route:
  hosts: [%s]
healthcheck:
  path: /healthz
  timeout: 3s
`, image, strategy, env, host)
}

// CleanBuilt removes, when the test ends, the harness's containers and
// then the images and volumes Berth made for its app (in that order: an
// image or volume in use cannot go).
func (h *Harness) CleanBuilt() {
	h.T.Cleanup(func() {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			h.T.Error(err)
			return
		}
		defer cli.Close()
		dockertest.RemoveContainers(h.T, cli, h.Name)
		ctx := context.Background()
		imgs, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", "berth/"+h.App+"_*"))})
		if err != nil {
			h.T.Error(err)
			return
		}
		for _, img := range imgs {
			for _, tag := range img.RepoTags { // by tag: a FROM-only build shares its base image's ID
				if !strings.HasPrefix(tag, "berth/"+h.App+"_") {
					continue
				}
				if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil {
					h.T.Errorf("removing built image %s: %v", tag, err)
				}
			}
		}
		vols, err := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", "berth-"+h.App+"_"))})
		if err != nil {
			h.T.Error(err)
			return
		}
		for _, v := range vols.Volumes {
			if err := cli.VolumeRemove(ctx, v.Name, true); err != nil {
				h.T.Errorf("removing volume %s: %v", v.Name, err)
			}
		}
	})
}

// VolumeOf is the name of the volume a container mounts at target.
func VolumeOf(t testing.TB, c docker.Container, target string) string {
	t.Helper()
	for _, m := range c.Volumes {
		if m.Target == target {
			return m.Name
		}
	}
	t.Fatalf("container %s mounts no volume at %s", c.Name, target)
	return ""
}

// RemoveVolume deletes a volume a test made.
func RemoveVolume(t testing.TB, name string) {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.VolumeRemove(context.Background(), name, true); err != nil {
		t.Errorf("removing volume %s: %v", name, err)
	}
}
