package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

// blueGreen starts green beside blue under a unique name, gates it, swaps
// the route by a pure upsert, persists green, and only then drains and
// stops blue. A green that fails before the record is written is removed
// and the route points at blue again: blue was never touched, and the
// error wraps ErrStillServing.
func (e *Engine) blueGreen(ctx context.Context, d Deployment) (Result, error) {
	w := d.Workload
	log := e.log.With("workload", w.ID())
	var res Result
	if err := e.beforeDeploy(ctx, d); err != nil {
		return res, err
	}
	// No name-collision teardown: green's unique name lets blue serve on.
	green, err := e.run(ctx, d, sources.BuildGreenName(sources.ContainerName(w)))
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrStillServing, err)
	}
	res.Started = e.now()
	e.failpoint(fault.FailAfterGreenStart)
	gate, err := e.gate(ctx, w, green)
	if err != nil {
		return e.revertGreen(ctx, d, green, res.Started, err, false)
	}
	res.Ready, res.Gate = e.now(), gate
	e.failpoint(fault.FailAfterGate)
	if err := e.route(ctx, w, green); err != nil {
		return e.revertGreen(ctx, d, green, res.Started, err, false)
	}
	res.Swapped = e.now()
	res.Container = green
	e.failpoint(fault.FailAfterRoute)
	if err := d.Persist(ctx, green); err != nil {
		return e.revertGreen(ctx, d, green, res.Started, fmt.Errorf("recording the green container: %w", err), true)
	}
	e.failpoint(fault.FailAfterPersist)
	if len(d.Old) > 0 && e.opts.Drain > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(e.opts.Drain):
		}
	}
	if err := e.removeAll(context.WithoutCancel(ctx), w, d.Old, grace(w), "replaced by "+short(d.Commit)); err != nil {
		log.Warn("stopping the old container failed; the next tick retries", "error", err)
	}
	e.failpoint(fault.FailAfterBlueStop)
	return res, nil
}
