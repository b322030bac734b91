package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Service is a Swarm service as a deploy needs it: its id and version
// (an update names the version it replaces) and its spec.
type Service struct {
	ID      string
	Version uint64
	Spec    swarm.ServiceSpec
	// Update is Swarm's update state ("", updating, paused, completed,
	// rollback_started, rollback_paused, rollback_completed) and
	// UpdateMessage its message.
	Update, UpdateMessage string
	UpdateStarted         time.Time
}

// Task is one task of a Berth service, as routing and status need it.
type Task struct {
	ID        string
	ServiceID string
	Slot      int
	NodeID    string
	State     string    // Swarm's task state: running, starting, failed, ...
	Desired   string    // its desired state: running, shutdown, ...
	Err       string    // why it failed, when it did
	At        time.Time // when it reached State
	Labels    map[string]string
	// HostPort is the port published in host mode on its node for the
	// workload's port (0 when none yet).
	HostPort int
	// Addr is where it answers: its node's address (127.0.0.1 on this
	// node) and HostPort; "" when it does not run or has no port.
	Addr string
}

// Workload is the id in the task's berth.workload label.
func (t Task) Workload() string { return t.Labels[LabelWorkload] }

// Hash is the desired hash of the version the task runs.
func (t Task) Hash() string { return t.Labels[LabelHash] }

// NodeID is this Docker host's Swarm node id ("" when not in a swarm).
func (d *Client) NodeID(ctx context.Context) (string, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	info, err := d.cli.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("docker info: %w", err)
	}
	return info.Swarm.NodeID, nil
}

// ServiceByName reads a service; ok is false when there is none.
func (d *Client) ServiceByName(ctx context.Context, name string) (svc Service, ok bool, err error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	s, _, err := d.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if errdefs.IsNotFound(err) {
		return Service{}, false, nil
	}
	if err != nil {
		return Service{}, false, fmt.Errorf("reading service %s: %w", name, err)
	}
	out := Service{ID: s.ID, Version: s.Version.Index, Spec: s.Spec}
	if u := s.UpdateStatus; u != nil {
		out.Update, out.UpdateMessage = string(u.State), u.Message
		if u.StartedAt != nil {
			out.UpdateStarted = *u.StartedAt
		}
	}
	return out, true, nil
}

// CreateService creates a service from spec, with the registry login of
// its image's host so every node can pull it.
func (d *Client) CreateService(ctx context.Context, spec swarm.ServiceSpec) (string, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	resp, err := d.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{EncodedRegistryAuth: d.registryAuth(spec.TaskTemplate.ContainerSpec.Image)})
	if err != nil {
		return "", fmt.Errorf("creating service %s: %w", spec.Name, err)
	}
	return resp.ID, nil
}

// UpdateService replaces the spec of the service at version.
func (d *Client) UpdateService(ctx context.Context, id string, version uint64, spec swarm.ServiceSpec) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	_, err := d.cli.ServiceUpdate(ctx, id, swarm.Version{Index: version}, spec,
		swarm.ServiceUpdateOptions{EncodedRegistryAuth: d.registryAuth(spec.TaskTemplate.ContainerSpec.Image)})
	if err != nil {
		return fmt.Errorf("updating service %s: %w", spec.Name, err)
	}
	return nil
}

// RollbackService asks Swarm to roll the service back to its previous
// spec (`docker service rollback`).
func (d *Client) RollbackService(ctx context.Context, id string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	s, _, err := d.cli.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	if err != nil {
		return fmt.Errorf("reading service %s: %w", id, err)
	}
	if _, err := d.cli.ServiceUpdate(ctx, id, s.Version, s.Spec, swarm.ServiceUpdateOptions{Rollback: "previous"}); err != nil {
		return fmt.Errorf("rolling back service %s: %w", s.Spec.Name, err)
	}
	return nil
}

// RemoveService removes a service; a missing one is not an error.
func (d *Client) RemoveService(ctx context.Context, name string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if err := d.cli.ServiceRemove(ctx, name); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("removing service %s: %w", name, err)
	}
	return nil
}

// ServiceTasks lists the tasks of one service that Swarm wants running or
// that are still shutting down, by slot.
func (d *Client) ServiceTasks(ctx context.Context, serviceID string) ([]Task, error) {
	return d.tasks(ctx, filters.NewArgs(filters.Arg("service", serviceID)))
}

// AgentTasks lists, in one call, every task whose containers carry
// agent's label — the ones Swarm wants running and its recent history of
// ended ones: the tick's view of services (Berth's own and stacks'
// alike), on every node.
func (d *Client) AgentTasks(ctx context.Context, agent string) ([]Task, error) {
	ts, err := d.tasks(ctx, filters.NewArgs())
	if err != nil {
		return nil, err
	}
	out := ts[:0]
	for _, t := range ts {
		if t.Labels[LabelAgent] == agent || t.Labels[LabelServiceAgent] == agent {
			out = append(out, t)
		}
	}
	return out, nil
}

func (d *Client) tasks(ctx context.Context, f filters.Args) ([]Task, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	ts, err := d.cli.TaskList(ctx, swarm.TaskListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing Swarm tasks: %w", err)
	}
	out := make([]Task, 0, len(ts))
	for _, t := range ts {
		task := Task{ID: t.ID, ServiceID: t.ServiceID, Slot: t.Slot, NodeID: t.NodeID, State: string(t.Status.State),
			Desired: string(t.DesiredState), Err: t.Status.Err, At: t.Status.Timestamp}
		if cs := t.Spec.ContainerSpec; cs != nil {
			task.Labels = cs.Labels
		}
		if ps := t.Status.PortStatus.Ports; len(ps) > 0 {
			task.HostPort = int(ps[0].PublishedPort)
		}
		out = append(out, task)
	}
	d.nodes.fill(ctx, d, out)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Slot != out[j].Slot {
			return out[i].Slot < out[j].Slot
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Tag gives a local image another reference.
func (d *Client) Tag(ctx context.Context, src, dst string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if err := d.cli.ImageTag(ctx, src, dst); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", src, dst, err)
	}
	return nil
}

// Push pushes a local image to its registry (with the login Berth holds
// for the host) and returns the digest the registry stored it under.
func (d *Client) Push(ctx context.Context, ref string) (string, error) {
	rc, err := d.cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: firstOr(d.registryAuth(ref), "e30=")})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	defer rc.Close()
	var digest string
	aux := func(m jsonmessage.JSONMessage) {
		var r struct {
			Digest string `json:"Digest"`
		}
		if m.Aux != nil && json.Unmarshal(*m.Aux, &r) == nil && r.Digest != "" {
			digest = r.Digest
		}
	}
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, aux); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	if digest == "" {
		return "", fmt.Errorf("pushing %s: the registry returned no digest", ref)
	}
	return digest, nil
}

func firstOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// EnsureSecret creates a Swarm secret named name holding value (labelled
// labels) unless it exists, and returns its id. Secrets are immutable:
// a new value gets a new name.
func (d *Client) EnsureSecret(ctx context.Context, name string, labels map[string]string, value []byte) (string, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if s, _, err := d.cli.SecretInspectWithRaw(ctx, name); err == nil {
		return s.ID, nil
	} else if !errdefs.IsNotFound(err) {
		return "", fmt.Errorf("reading Swarm secret %s: %w", name, err)
	}
	resp, err := d.cli.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: value})
	if err != nil {
		return "", fmt.Errorf("creating Swarm secret %s: %w", name, err)
	}
	return resp.ID, nil
}

// RemoveSecrets removes the Swarm secrets labelled with workload's id
// except those named in keep; one still in use by a service stays.
func (d *Client) RemoveSecrets(ctx context.Context, workload string, keep map[string]bool) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	list, err := d.cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelWorkload+"="+workload))})
	if err != nil {
		return fmt.Errorf("listing Swarm secrets: %w", err)
	}
	var errs []error
	for _, s := range list {
		if keep[s.Spec.Name] {
			continue
		}
		if err := d.cli.SecretRemove(ctx, s.ID); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing Swarm secret %s: %w", s.Spec.Name, err))
		}
	}
	return errors.Join(errs...)
}

// nodeAddrs resolves running tasks' addresses: this node's tasks answer
// on 127.0.0.1, another node's at the address Swarm knows it by. The
// node list is read again only when a task runs on a node it lacks.
type nodeAddrs struct {
	mu    sync.Mutex
	self  string
	addrs map[string]string // node id → address
}

func (n *nodeAddrs) fill(ctx context.Context, d *Client, ts []Task) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, t := range ts {
		if t.HostPort == 0 || t.State != "running" {
			continue
		}
		if n.self == "" {
			if info, err := d.cli.Info(ctx); err == nil {
				n.self = info.Swarm.NodeID
			}
		}
		host := "127.0.0.1"
		if t.NodeID != "" && t.NodeID != n.self {
			if n.addrs[t.NodeID] == "" {
				if nodes, err := d.cli.NodeList(ctx, swarm.NodeListOptions{}); err == nil {
					n.addrs = map[string]string{}
					for _, node := range nodes {
						n.addrs[node.ID] = node.Status.Addr
					}
				}
			}
			if a := n.addrs[t.NodeID]; a != "" {
				host = a
			}
		}
		ts[i].Addr = net.JoinHostPort(host, strconv.Itoa(t.HostPort))
	}
}
