package docker

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// ContainerEvent is a change Docker reports about one of an agent's
// containers: create, start, die, destroy, rename, pause, unpause, update,
// oom (the kernel killed a process of it for want of memory).
type ContainerEvent struct {
	ID     string
	Action string
}

// ErrStreamEnded means the daemon closed the event stream (it stopped, or
// restarted): what happened since is unknown until the next list.
var ErrStreamEnded = errors.New("docker event stream ended")

// WatchContainers subscribes to the changes of the agent's containers.
// It returns once the daemon accepted the subscription, so a List made
// after it misses no change. Events flow until ctx ends or the stream
// breaks; the error channel then says why (and is closed).
func (d *Client) WatchContainers(ctx context.Context, agent string) (<-chan ContainerEvent, <-chan error) {
	msgs, errs := d.cli.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", LabelAgent+"="+agent),
		filters.Arg("event", "create"), filters.Arg("event", "start"), filters.Arg("event", "die"),
		filters.Arg("event", "destroy"), filters.Arg("event", "rename"), filters.Arg("event", "pause"),
		filters.Arg("event", "unpause"), filters.Arg("event", "update"), filters.Arg("event", "oom"),
	)})
	out := make(chan ContainerEvent)
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for {
			select {
			case m := <-msgs:
				select {
				case out <- ContainerEvent{ID: m.Actor.ID, Action: string(m.Action)}:
				case <-ctx.Done():
					done <- ctx.Err()
					return
				}
			case err, ok := <-errs:
				if !ok || err == nil {
					err = ErrStreamEnded
				}
				done <- fmt.Errorf("watching containers: %w", err)
				return
			}
		}
	}()
	return out, done
}

// Get reads one of the agent's containers as List would show it; ok is
// false when it no longer exists.
func (d *Client) Get(ctx context.Context, agent, id string) (c Container, ok bool, err error) {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("id", id), filters.Arg("label", LabelAgent+"="+agent))})
	if err != nil {
		return Container{}, false, fmt.Errorf("reading container %s: %w", id, err)
	}
	for _, s := range list {
		if s.ID == id {
			return fromSummary(s), true, nil
		}
	}
	return Container{}, false, nil
}
