package engine

import (
	"context"
	"fmt"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

// recreate replaces the old containers with one new one, never running
// both: the old ones are stopped before the new one starts. The image is
// prepared and the new container created first, so the old one serves
// meanwhile and the downtime is only stop → start → ready.
//
// It is a transaction: when anything fails after the old container was
// stopped (the new one does not start, fails the gate, the route cannot
// be set, the record cannot be written), the new container is removed
// and the old one is started again and routed to, and the error wraps
// ErrReverted. A failure before the old one was touched wraps
// ErrStillServing.
func (e *Engine) recreate(ctx context.Context, d Deployment) (Result, error) {
	w := d.Workload
	log := e.log.With("workload", w.ID())
	var res Result
	base := sources.ContainerName(w)
	if err := e.beforeDeploy(ctx, d); err != nil {
		return res, err
	}
	spec := e.spec(d, sources.BuildGreenName(base))
	spec.Carry = carried(d.Current, spec.Volumes)
	id, err := e.create(ctx, spec)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrStillServing, err)
	}
	for _, o := range sortedByName(d.Old) {
		if err := e.runner.Stop(ctx, o.ID, grace(w)); err != nil {
			return e.revertContainer(ctx, d, id, fmt.Errorf("stopping old container %s: %w", o.Name, err))
		}
	}
	e.failpoint(fault.FailAfterOldStop)
	c, err := e.runner.Start(ctx, id, w.Port)
	if err != nil {
		return e.revertContainer(ctx, d, "", err) // Start removed the container that did not start
	}
	res.Container, res.Started = c, e.now()
	e.failpoint(fault.FailAfterNewStart)
	gate, err := e.gate(ctx, w, c)
	if err != nil {
		return e.revertContainer(ctx, d, c.ID, err)
	}
	res.Ready, res.Gate = e.now(), gate
	e.failpoint(fault.FailAfterGate)
	if err := e.route(ctx, w, c); err != nil {
		return e.revertContainer(ctx, d, c.ID, err)
	}
	res.Swapped = e.now()
	e.failpoint(fault.FailAfterRoute)
	if err := d.Persist(ctx, c); err != nil {
		return e.revertContainer(ctx, d, c.ID, fmt.Errorf("recording the new container: %w", err))
	}
	e.failpoint(fault.FailAfterPersist)
	if err := e.removeAll(context.WithoutCancel(ctx), d.Workload, d.Old, 0, "replaced by "+short(d.Commit)); err != nil {
		log.Warn("removing the old container failed; the next tick retries", "error", err)
	} else if err := e.runner.Rename(ctx, c.ID, base); err != nil {
		log.Warn("naming the new container failed", "error", err)
	} else {
		c.Name = base
		res.Container = c
		if err := d.Persist(ctx, c); err != nil {
			log.Warn("recording the new container's name failed", "error", err)
		}
	}
	return res, nil
}

// carried are the anonymous volumes (those an image's VOLUME lines made)
// of the container being replaced, mounted into its successor at the same
// paths, as docker compose does: a redeploy keeps the data. Paths a named
// volume now covers are left out.
func carried(current *docker.Container, named map[string]string) []docker.Mount {
	if current == nil {
		return nil
	}
	taken := map[string]bool{}
	for _, target := range named {
		taken[target] = true
	}
	var out []docker.Mount
	for _, m := range current.Volumes {
		if anonymous(m.Name) && !taken[m.Target] {
			out = append(out, m)
		}
	}
	return out
}

// anonymous reports whether a volume name is one Docker generated.
func anonymous(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range name {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
