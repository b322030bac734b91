package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// ServiceState is one Swarm service of a stack, as far as a rollout goes.
type ServiceState struct {
	Name    string
	Version uint64
	// Update is Swarm's update state ("" before the first update,
	// "updating", "paused", "completed", "rollback_started",
	// "rollback_paused", "rollback_completed") and UpdateStarted when it
	// began.
	Update        string
	UpdateMessage string
	UpdateStarted time.Time
	Running       uint64 // tasks running
	Desired       uint64 // tasks desired (replicas)
	// Labels are the service's own labels (deploy.labels).
	Labels map[string]string
}

// ErrNotSwarmManager means stacks cannot deploy on this Docker host.
var ErrNotSwarmManager = errors.New("this Docker host is not a Swarm manager")

// SwarmManager returns nil when this Docker host is an active Swarm
// manager, and says what to do otherwise.
func (d *Client) SwarmManager(ctx context.Context) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	info, err := d.cli.Info(ctx)
	if err != nil {
		return fmt.Errorf("docker info: %w", err)
	}
	switch {
	case info.Swarm.LocalNodeState != swarm.LocalNodeStateActive:
		return fmt.Errorf("%w: it is not in a swarm (Swarm state %q); run `docker swarm init` or deploy stacks from a manager's agent", ErrNotSwarmManager, info.Swarm.LocalNodeState)
	case !info.Swarm.ControlAvailable:
		return fmt.Errorf("%w: it is a worker; deploy stacks from a manager's agent", ErrNotSwarmManager)
	}
	return nil
}

// StackServices lists the services of a Swarm stack with their update
// state and task counts.
func (d *Client) StackServices(ctx context.Context, stack string) ([]ServiceState, error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	svcs, err := d.cli.ServiceList(ctx, swarm.ServiceListOptions{
		Filters: filters.NewArgs(filters.Arg("label", "com.docker.stack.namespace="+stack)), Status: true,
	})
	if err != nil {
		return nil, fmt.Errorf("listing the services of stack %s: %w", stack, err)
	}
	out := make([]ServiceState, 0, len(svcs))
	for _, s := range svcs {
		st := ServiceState{Name: s.Spec.Name, Version: s.Version.Index, Labels: s.Spec.Labels}
		if u := s.UpdateStatus; u != nil {
			st.Update, st.UpdateMessage = string(u.State), u.Message
			if u.StartedAt != nil {
				st.UpdateStarted = *u.StartedAt
			}
		}
		if s.ServiceStatus != nil {
			st.Running, st.Desired = s.ServiceStatus.RunningTasks, s.ServiceStatus.DesiredTasks
		}
		out = append(out, st)
	}
	return out, nil
}
