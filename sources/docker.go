package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/go-connections/nat"
	"github.com/docker/go-connections/sockets"
)

// Labels Berth puts on every container it manages.
const (
	LabelAgent    = "berth.agent"    // the agent that owns the container
	LabelWorkload = "berth.workload" // <app>/<name>
	LabelHash     = "berth.hash"     // the desired hash it was created for
	LabelCommit   = "berth.commit"   // the config commit it was created from
)

// Docker is Berth's adapter over the Docker Engine API. It negotiates the
// API version with the daemon and counts the requests it makes, for
// metrics and benchmarks.
type Docker struct {
	cli   *client.Client
	calls atomic.Int64
}

// NewDocker connects to the daemon at host ("" for the default socket).
func NewDocker(host string) (*Docker, error) {
	if host == "" {
		host = client.DefaultDockerHost
	}
	u, err := client.ParseHostURL(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	tr := &http.Transport{MaxIdleConns: 6, IdleConnTimeout: 30 * time.Second}
	if err := sockets.ConfigureTransport(tr, u.Scheme, u.Host); err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	d := &Docker{}
	cli, err := client.NewClientWithOpts(
		client.WithHost(host),
		client.WithHTTPClient(&http.Client{Transport: &countingTransport{base: tr, n: &d.calls}}),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	d.cli = cli
	return d, nil
}

// Close releases the client's connections.
func (d *Docker) Close() error { return d.cli.Close() }

// Calls is the number of Docker API requests made so far.
func (d *Docker) Calls() int64 { return d.calls.Load() }

// Ping checks that the daemon answers.
func (d *Docker) Ping(ctx context.Context) error {
	if _, err := d.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker daemon: %w", err)
	}
	return nil
}

type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.base.RoundTrip(r)
}

// Container is what Berth knows of a container it manages.
type Container struct {
	ID       string
	Name     string
	Image    string
	ImageID  string
	State    string // created, running, exited, ...
	Labels   map[string]string
	HostPort int // the 127.0.0.1 port published for the workload's port, 0 if none
	// RestartCount is how often Docker restarted it (Inspect only).
	RestartCount int
}

// Workload is the id in the berth.workload label.
func (c Container) Workload() string { return c.Labels[LabelWorkload] }

// Hash is the desired hash in the berth.hash label.
func (c Container) Hash() string { return c.Labels[LabelHash] }

// Running reports whether the container is up.
func (c Container) Running() bool { return c.State == "running" }

// List returns every container (running or not) that agent owns, in one
// API call.
func (d *Docker) List(ctx context.Context, agent string) ([]Container, error) {
	list, err := d.cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelAgent+"="+agent)),
	})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := make([]Container, 0, len(list))
	for _, s := range list {
		c := Container{ID: s.ID, Image: s.Image, ImageID: s.ImageID, State: string(s.State), Labels: s.Labels}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		for _, p := range s.Ports {
			if localBinding(p.IP) && p.PublicPort != 0 {
				c.HostPort = int(p.PublicPort)
				break
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Image is what Berth reads of a local image.
type Image struct {
	ID      string
	Digest  string   // the registry digest (repo@sha256:...), "" for a local build
	Env     []string // the image's own ENV
	Volumes []string // the paths its VOLUME lines declare, sorted
}

// InspectImage returns a local image; ok is false when ref is not on the
// host.
func (d *Docker) InspectImage(ctx context.Context, ref string) (img Image, ok bool, err error) {
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
func (d *Docker) Pull(ctx context.Context, ref string) error {
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// RunSpec describes a container to create and start.
type RunSpec struct {
	Name   string
	Image  string
	Env    []string // KEY=value, in the order given
	Labels map[string]string
	Port   int // container port to publish on 127.0.0.1 with an ephemeral host port; 0 for none
	// HostPort pins the published port (on all interfaces) instead.
	HostPort int
	// Volumes are named volumes to mount: name → path in the container.
	Volumes map[string]string
}

// Create creates a container without starting it.
func (d *Docker) Create(ctx context.Context, spec RunSpec) (string, error) {
	cfg := &container.Config{Image: spec.Image, Env: spec.Env, Labels: spec.Labels}
	hc := &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}}
	for name, target := range spec.Volumes {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: name, Target: target})
	}
	var port nat.Port
	if spec.Port > 0 {
		port = nat.Port(strconv.Itoa(spec.Port) + "/tcp")
		cfg.ExposedPorts = nat.PortSet{port: {}}
		hc.PortBindings = nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: ""}}}
		if spec.HostPort > 0 {
			hc.PortBindings = nat.PortMap{port: {{HostIP: "", HostPort: strconv.Itoa(spec.HostPort)}}}
		}
	}
	created, err := d.cli.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name)
	if err != nil {
		return "", fmt.Errorf("creating container %s: %w", spec.Name, err)
	}
	return created.ID, nil
}

// Start starts a created container and returns it with the host port
// published for port. A container that does not start is removed.
func (d *Docker) Start(ctx context.Context, id string, port int) (Container, error) {
	if err := d.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		rmErr := d.Remove(context.WithoutCancel(ctx), id, 0)
		return Container{}, errors.Join(fmt.Errorf("starting container %s: %w", short(id), err), rmErr)
	}
	return d.Inspect(ctx, id, port)
}

// Stop stops a container with the grace period; one already gone or
// stopped is not an error.
func (d *Docker) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace.Seconds())
	if err := d.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stopping container %s: %w", short(id), err)
	}
	return nil
}

// Rename gives a container a new name.
func (d *Docker) Rename(ctx context.Context, id, name string) error {
	if err := d.cli.ContainerRename(ctx, id, name); err != nil {
		return fmt.Errorf("renaming container %s to %s: %w", short(id), name, err)
	}
	return nil
}

// Inspect returns a container's current state and the host port published
// for port.
func (d *Docker) Inspect(ctx context.Context, id string, port int) (Container, error) {
	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return Container{}, fmt.Errorf("inspecting container %s: %w", id, err)
	}
	c := Container{ID: info.ID, Name: strings.TrimPrefix(info.Name, "/"), ImageID: info.Image, RestartCount: info.RestartCount}
	if info.Config != nil {
		c.Image = info.Config.Image
		c.Labels = info.Config.Labels
	}
	if info.State != nil {
		c.State = info.State.Status
	}
	if port > 0 && info.NetworkSettings != nil {
		for _, b := range info.NetworkSettings.Ports[nat.Port(strconv.Itoa(port)+"/tcp")] {
			if p, err := strconv.Atoi(b.HostPort); err == nil && localBinding(b.HostIP) {
				c.HostPort = p
				break
			}
		}
	}
	return c, nil
}

// localBinding reports whether a published port is reachable on
// 127.0.0.1: bound there, or on every interface (a pinned host_port).
func localBinding(ip string) bool {
	return ip == "127.0.0.1" || ip == "0.0.0.0" || ip == ""
}

// Remove stops a container with the grace period, then removes it. A
// container that is already gone is not an error.
func (d *Docker) Remove(ctx context.Context, id string, grace time.Duration) error {
	if err := d.Stop(ctx, id, grace); err != nil {
		return err
	}
	err := d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	return nil
}
