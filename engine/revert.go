package engine

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// The revert of a failed deploy — what the engine does on its own to put
// the last good version back — lives here, for every kind of deploy. (The
// operator's `berth rollback` is another thing: a deploy of an older
// release, which itself reverts when it fails.)

// The ways a deploy can fail, for the outcome the operator sees.
var (
	// ErrStillServing: the deploy failed before the running version was
	// touched; it serves on, the route unchanged.
	ErrStillServing = errors.New("the running version is still serving")
	// ErrReverted: the new version failed after the old one was stopped;
	// the old one was started (or brought up) again and routed to.
	ErrReverted = errors.New("rolled back to the previous version")
	// ErrRevertFailed: the revert could not start the previous version.
	ErrRevertFailed = errors.New("the previous version could not be restored")
)

// revertGreen undoes a blue-green deploy whose green failed before it was
// recorded: the route points at blue again (when it had moved) and green
// goes. Blue was never touched.
func (e *Engine) revertGreen(ctx context.Context, d Deployment, green docker.Container, started time.Time, cause error, swapped bool) (Result, error) {
	log := e.log.With("workload", d.Workload.ID())
	bg := context.WithoutCancel(ctx)
	if swapped && d.Current != nil {
		if err := e.route(bg, d.Workload, *d.Current); err != nil {
			log.Warn("pointing the route back at blue failed", "error", err)
		}
	}
	e.keep(bg, d.Workload, green, "failed: "+cause.Error())
	if err := e.runner.Remove(bg, green.ID, 0); err != nil {
		log.Warn("removing the failed green container failed", "container", green.Name, "error", err)
	}
	return Result{Started: started}, fmt.Errorf("%w: %w", ErrStillServing, cause)
}

// revertContainer undoes a recreate whose new container failed: it
// removes the new container (id, when one is left), starts the previous
// serving container again and points the route back at it.
func (e *Engine) revertContainer(ctx context.Context, d Deployment, id string, cause error) (Result, error) {
	w := d.Workload
	failedAt := e.now()
	bg := context.WithoutCancel(ctx) // a revert finishes even when the deploy was cancelled
	if id != "" {
		e.keep(bg, w, docker.Container{ID: id}, "failed: "+cause.Error())
		if err := e.runner.Remove(bg, id, 0); err != nil {
			e.log.Warn("removing the failed container failed", "workload", w.ID(), "error", err)
		}
	}
	if d.Current == nil {
		return Result{}, cause // nothing ran before: nothing to restore
	}
	prev := previousOf(d)
	c, err := e.runner.Restart(bg, d.Current.ID, prev.Port)
	if err != nil {
		return Result{}, errors.Join(cause, fmt.Errorf("%w: %w", ErrRevertFailed, err))
	}
	for _, o := range d.Old {
		if o.ID != d.Current.ID { // stopped leftovers (a crashed attempt's): nothing serves from them
			if err := e.runner.Remove(bg, o.ID, 0); err != nil {
				e.log.Warn("removing a leftover container failed", "workload", w.ID(), "container", o.Name, "error", err)
			}
		}
	}
	res := Result{RevertedTo: c, Reverted: true, FailedAt: failedAt}
	// The route goes back (to its new address) the moment the old version
	// answers again — its own readiness check, not the new version's that
	// just failed: a revert must not route to a server still starting, nor
	// wait on a path only the failed version had.
	if err := e.answering(bg, prev, c); err != nil {
		e.log.Warn("the restored container is not ready yet", "workload", w.ID(), "error", err)
	}
	if err := e.route(bg, w, c); err != nil {
		// The old container runs again; the next tick points the route at
		// it (routes follow the runtime row) once the proxy answers.
		e.log.Warn("pointing the route back at the previous container failed", "workload", w.ID(), "error", err)
	}
	res.RevertedAt = e.now()
	e.log.Warn("reverted: the previous version serves again", "workload", w.ID(), "container", c.Name, "upstream", Upstream(c))
	return res, fmt.Errorf("%w: %w", ErrReverted, cause)
}

// revertStack brings the last good release of a stack (d.Previous) up
// again with its tool after a failed up. It returns the deploy's error
// marked with what serves now.
func (e *Engine) revertStack(ctx context.Context, d Deployment, tool stackTool, name string, upErr error) error {
	prev := d.Previous
	if prev == nil {
		return upErr // nothing good ran before
	}
	if prev.Unavailable != nil {
		return errors.Join(upErr, fmt.Errorf("%w: %w", ErrRevertFailed, prev.Unavailable))
	}
	// The kept copy is checked again: a release is re-applied only as the
	// policy allows it now.
	p, err := e.render(context.WithoutCancel(ctx), name, prev.File, prev.Env)
	if err != nil {
		return errors.Join(upErr, fmt.Errorf("%w: %w", ErrRevertFailed, err))
	}
	if err := tool.up(context.WithoutCancel(ctx), e, p, e.Labels(prev.Workload, prev.Commit), false); err != nil {
		return errors.Join(upErr, fmt.Errorf("%w: %w", ErrRevertFailed, err))
	}
	e.log.Warn("reverted: the previous version of the stack serves again", "workload", d.Workload.ID(), "project", name, "file", path.Base(prev.File))
	return fmt.Errorf("%w: %w", ErrReverted, upErr)
}

// previousOf is the workload whose readiness check the restored container
// answers: its own release's, or, unknown, the new one without its
// healthcheck (any answer below 500 on the port).
func previousOf(d Deployment) *sources.Workload {
	if d.CurrentWorkload != nil {
		return d.CurrentWorkload
	}
	w := *d.Workload
	w.Healthcheck = nil
	return &w
}
