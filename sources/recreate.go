package sources

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// recreate replaces the old containers with one new one, never running
// both: the old ones are stopped before the new one starts. The image is
// already prepared and the new container already created, so the old one
// served meanwhile and the downtime is only stop → start → ready; removing
// the old container and naming the new one happen after the route swap.
func (e *Engine) recreate(ctx context.Context, d Deployment) (Result, error) {
	w := d.Workload
	log := e.log.With("workload", w.ID())
	var res Result
	base := ContainerName(w)
	id, err := e.docker.Create(ctx, e.spec(d, BuildGreenName(base)))
	if err != nil {
		return res, err
	}
	sort.Slice(d.Old, func(i, j int) bool { return d.Old[i].Name < d.Old[j].Name })
	for _, o := range d.Old {
		if err := e.docker.Stop(ctx, o.ID, grace(w)); err != nil {
			_ = e.docker.Remove(context.WithoutCancel(ctx), id, 0)
			return res, fmt.Errorf("stopping old container %s: %w", o.Name, err)
		}
	}
	c, err := e.docker.Start(ctx, id, w.Port)
	if err != nil {
		return res, err
	}
	res.Container, res.Started = c, time.Now()
	if err := e.gate(ctx, w, c); err != nil {
		return res, err
	}
	res.Ready = time.Now()
	if err := e.route(ctx, w, c); err != nil {
		return res, err
	}
	res.Swapped = time.Now()
	if err := e.removeAll(context.WithoutCancel(ctx), d.Old, 0); err != nil {
		log.Warn("removing the old container failed; the next tick retries", "error", err)
	} else if err := e.docker.Rename(ctx, c.ID, base); err != nil {
		log.Warn("naming the new container failed", "error", err)
	} else {
		c.Name = base
		res.Container = c
	}
	if err := d.Persist(ctx, c); err != nil {
		return res, fmt.Errorf("recording the new container: %w", err)
	}
	return res, nil
}
