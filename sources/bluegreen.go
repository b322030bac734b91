package sources

import (
	"context"
	"fmt"
	"time"
)

// blueGreen starts green beside blue under a unique name, gates it, swaps
// the route by a pure upsert, persists green, and only then drains and
// stops blue. A green that fails is removed; blue and the route are left
// as they were.
func (e *Engine) blueGreen(ctx context.Context, d Deployment) (Result, error) {
	w := d.Workload
	log := e.log.With("workload", w.ID())
	var res Result
	// No name-collision teardown: green's unique name lets blue serve on.
	green, err := e.run(ctx, d, BuildGreenName(ContainerName(w)))
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrBlueServing, err)
	}
	res.Started = time.Now()
	e.failpoint(FailAfterGreenStart)
	abandon := func(err error) (Result, error) {
		if rmErr := e.docker.Remove(context.WithoutCancel(ctx), green.ID, 0); rmErr != nil {
			log.Warn("removing the failed green container failed", "container", green.Name, "error", rmErr)
		}
		return Result{Started: res.Started}, fmt.Errorf("%w: %w", ErrBlueServing, err)
	}
	if err := e.gate(ctx, w, green); err != nil {
		return abandon(err)
	}
	res.Ready = time.Now()
	e.failpoint(FailAfterGate)
	if err := e.route(ctx, w, green); err != nil {
		return abandon(err)
	}
	res.Swapped = time.Now()
	res.Container = green
	e.failpoint(FailAfterRoute)
	if err := d.Persist(ctx, green); err != nil {
		// The route already points at green: keep it, and keep blue too;
		// the next tick reconciles from what runs.
		return res, fmt.Errorf("recording the green container: %w", err)
	}
	e.failpoint(FailAfterPersist)
	if len(d.Old) > 0 && e.opts.Drain > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(e.opts.Drain):
		}
	}
	if err := e.removeAll(context.WithoutCancel(ctx), d.Old, grace(w)); err != nil {
		log.Warn("stopping the old container failed; the next tick retries", "error", err)
	}
	e.failpoint(FailAfterBlueStop)
	return res, nil
}
