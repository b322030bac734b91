package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"
)

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
	// Volumes are its volume mounts (named and anonymous).
	Volumes []Mount
	// Addrs, for a workload's Swarm service standing in for its
	// container, are its tasks' addresses, joined by commas.
	Addrs string
}

// Mount is a volume mounted into a container.
type Mount struct {
	Name   string // the volume's name (a hex id for an anonymous one)
	Target string // the path in the container
}

// Workload is the id in the berth.workload label.
func (c Container) Workload() string { return c.Labels[LabelWorkload] }

// Hash is the desired hash in the berth.hash label.
func (c Container) Hash() string { return c.Labels[LabelHash] }

// Running reports whether the container is up.
func (c Container) Running() bool { return c.State == "running" }

// List returns every container (running or not) that agent owns, in one
// API call.
func (d *Client) List(ctx context.Context, agent string) ([]Container, error) {
	return d.list(ctx, LabelAgent+"="+agent)
}

// ServiceContainers lists the containers on this node of the Swarm
// services agent deployed (--engine swarm), in one API call.
func (d *Client) ServiceContainers(ctx context.Context, agent string) ([]Container, error) {
	return d.list(ctx, LabelServiceAgent+"="+agent)
}

func (d *Client) list(ctx context.Context, label string) ([]Container, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	list, err := d.cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", label)),
	})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := make([]Container, 0, len(list))
	for _, s := range list {
		out = append(out, fromSummary(s))
	}
	return out, nil
}

// fromSummary is a listed container as Berth reads it.
func fromSummary(s container.Summary) Container {
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
	c.Volumes = volumeMounts(s.Mounts)
	return c
}

func volumeMounts(ms []container.MountPoint) []Mount {
	var out []Mount
	for _, m := range ms {
		if m.Type == mount.TypeVolume && m.Name != "" {
			out = append(out, Mount{Name: m.Name, Target: m.Destination})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
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
	// They are created (labelled like the container) when missing.
	Volumes map[string]string
	// Carry are existing volumes to mount again, such as the anonymous
	// volumes of the container this one replaces.
	Carry []Mount
	// Cmd, when set, replaces the image's command (a task's).
	Cmd []string
	// Task: a one-off run — no restart policy, no published port.
	Task bool
	// Memory (bytes, no swap beyond it), NanoCPUs and PidsLimit cap the
	// container; 0 is unlimited.
	Memory, NanoCPUs, PidsLimit int64
	// Network is a bridge network of its own to join (created when
	// missing) instead of Docker's default bridge; "" for the default.
	Network string
}

// Create creates a container without starting it.
func (d *Client) Create(ctx context.Context, spec RunSpec) (string, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	cfg := &container.Config{Image: spec.Image, Env: spec.Env, Labels: spec.Labels, Cmd: spec.Cmd}
	hc := &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}}
	hc.Memory, hc.NanoCPUs = spec.Memory, spec.NanoCPUs
	if spec.Memory > 0 {
		hc.MemorySwap = spec.Memory // no swap beyond the limit: over it is an OOM kill, not a slow crawl
	}
	if spec.PidsLimit > 0 {
		hc.PidsLimit = &spec.PidsLimit
	}
	if spec.Task {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyDisabled}
		spec.Port, spec.HostPort = 0, 0
	}
	names := make([]string, 0, len(spec.Volumes))
	for name := range spec.Volumes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.ensureVolume(ctx, name, spec.Labels); err != nil {
			return "", err
		}
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: name, Target: spec.Volumes[name]})
	}
	for _, m := range spec.Carry {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Name, Target: m.Target})
	}
	if spec.Network != "" {
		if err := d.ensureNetwork(ctx, spec.Network, spec.Labels); err != nil {
			return "", err
		}
		hc.NetworkMode = container.NetworkMode(spec.Network)
	}
	if spec.Port > 0 {
		port := nat.Port(strconv.Itoa(spec.Port) + "/tcp")
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

// ProjectContainers lists every container (of any owner) in a compose
// project, in one API call.
func (d *Client) ProjectContainers(ctx context.Context, project string) ([]Container, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
	if err != nil {
		return nil, fmt.Errorf("listing the containers of compose project %s: %w", project, err)
	}
	out := make([]Container, 0, len(list))
	for _, s := range list {
		c := Container{ID: s.ID, State: string(s.State), Labels: s.Labels}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, c)
	}
	return out, nil
}

// VolumeLabels returns a volume's labels; ok is false when it does not
// exist.
func (d *Client) VolumeLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	v, err := d.cli.VolumeInspect(ctx, name)
	if cerrdefs.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("inspecting volume %s: %w", name, err)
	}
	return v.Labels, true, nil
}

// ensureVolume creates a named volume with the workload's labels, so it
// can be found (and only with --prune-volumes removed) after the workload
// is gone. An existing volume is kept as it is.
func (d *Client) ensureVolume(ctx context.Context, name string, labels map[string]string) error {
	if _, err := d.cli.VolumeInspect(ctx, name); err == nil {
		return nil
	}
	vl := map[string]string{}
	for _, k := range []string{LabelAgent, LabelWorkload} {
		if v, ok := labels[k]; ok {
			vl[k] = v
		}
	}
	if _, err := d.cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: vl}); err != nil {
		return fmt.Errorf("creating volume %s: %w", name, err)
	}
	return nil
}

// Start starts a created container and returns it with the host port
// published for port. A container that does not start is removed.
func (d *Client) Start(ctx context.Context, id string, port int) (Container, error) {
	cctx, cancel := d.call(ctx, 0)
	defer cancel()
	if err := d.cli.ContainerStart(cctx, id, container.StartOptions{}); err != nil {
		rmErr := d.Remove(context.WithoutCancel(ctx), id, 0)
		return Container{}, errors.Join(fmt.Errorf("starting container %s: %w", ShortID(id), err), rmErr)
	}
	return d.Inspect(ctx, id, port)
}

// Restart starts a stopped container again (a rollback's old version) and
// returns it with its (possibly new) host port.
func (d *Client) Restart(ctx context.Context, id string, port int) (Container, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if err := d.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return Container{}, fmt.Errorf("starting container %s again: %w", ShortID(id), err)
	}
	return d.Inspect(ctx, id, port)
}

// Stop stops a container with the grace period; one already gone or
// stopped is not an error.
func (d *Client) Stop(ctx context.Context, id string, grace time.Duration) error {
	ctx, cancel := d.call(ctx, grace)
	defer cancel()
	secs := int(grace.Seconds())
	if err := d.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stopping container %s: %w", ShortID(id), err)
	}
	return nil
}

// Rename gives a container a new name.
func (d *Client) Rename(ctx context.Context, id, name string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if err := d.cli.ContainerRename(ctx, id, name); err != nil {
		return fmt.Errorf("renaming container %s to %s: %w", ShortID(id), name, err)
	}
	return nil
}

// Inspect returns a container's current state and the host port published
// for port.
func (d *Client) Inspect(ctx context.Context, id string, port int) (Container, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
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
	c.Volumes = volumeMounts(info.Mounts)
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

// InspectCreated is a container as Docker created it (docker inspect),
// for the policy's check before it starts.
func (d *Client) InspectCreated(ctx context.Context, id string) (container.InspectResponse, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return info, fmt.Errorf("inspecting container %s: %w", ShortID(id), err)
	}
	return info, nil
}

// localBinding reports whether a published port is reachable on
// 127.0.0.1: bound there, or on every interface (a pinned host_port).
func localBinding(ip string) bool {
	return ip == "127.0.0.1" || ip == "0.0.0.0" || ip == ""
}

// Remove stops a container with the grace period, then removes it. Its
// volumes are kept: a deploy never deletes data. A container that is
// already gone is not an error.
func (d *Client) Remove(ctx context.Context, id string, grace time.Duration) error {
	return d.remove(ctx, id, grace, false)
}

// Purge removes a container and its anonymous volumes (prune with
// --prune-volumes).
func (d *Client) Purge(ctx context.Context, id string, grace time.Duration) error {
	return d.remove(ctx, id, grace, true)
}

func (d *Client) remove(ctx context.Context, id string, grace time.Duration, volumes bool) error {
	ctx, cancel := d.call(ctx, grace)
	defer cancel()
	if err := d.Stop(ctx, id, grace); err != nil {
		return err
	}
	err := d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: volumes})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	return nil
}

// RemoveWorkloadVolumes deletes the named volumes Berth created for a
// workload (prune with --prune-volumes).
func (d *Client) RemoveWorkloadVolumes(ctx context.Context, agent, workload string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	list, err := d.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelAgent+"="+agent), filters.Arg("label", LabelWorkload+"="+workload))})
	if err != nil {
		return fmt.Errorf("listing the volumes of %s: %w", workload, err)
	}
	var errs []error
	for _, v := range list.Volumes {
		if err := d.cli.VolumeRemove(ctx, v.Name, false); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ShortID is the first 12 characters of a Docker object id, as docker ps
// shows it.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
