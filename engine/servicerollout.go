package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
)

// serviceRollout follows one update (or creation) of a workload's
// service: it gates each new task as Swarm starts it, keeps the route on
// the tasks that may take traffic, and judges the end.
type serviceRollout struct {
	e     *Engine
	d     Deployment
	id    string // the service
	name  string
	node  string // this host's node id
	fresh bool   // the service was created by this deploy
	since time.Time
	gates map[string]*taskGate // by task id
	// asked: Berth asked Swarm to roll the update back, for cause.
	asked   bool
	cause   error
	lastErr string // the last error of a task of the new version
	routed  string
	started time.Time
}

// placeWait is how long a new task may wait for a node that meets its
// constraints before the update is given up.
const placeWait = 15 * time.Second

// taskGate is where one new task stands in Berth's gate.
type taskGate struct {
	seen     time.Time // first seen running, with its port
	answered time.Time // its first passing answer
	passed   bool
	last     string // the last answer that did not pass
	how      string // how it passed, for the deploy event
}

// taskView is one reading of the service's tasks.
type taskView struct {
	route   []string // the addresses that may take traffic
	done    bool     // every task runs the new version and passed the gate
	failed  error    // a new task failed the gate
	gate    string
	pending string
}

// follow polls the service until its rollout ended, and says how.
func (r *serviceRollout) follow(ctx context.Context) (Result, error) {
	s := r.e.opts.Services
	wait, poll := s.Wait, s.Poll
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	begun := time.Now()
	deadline := begun.Add(wait)
	var res Result
	for {
		svc, ok, err := s.API.ServiceByName(ctx, r.name)
		if err == nil && !ok {
			err = fmt.Errorf("the service %s vanished during its rollout", r.name)
		}
		if err != nil {
			return res, err
		}
		tasks, err := s.API.ServiceTasks(ctx, r.id)
		if err != nil {
			return res, err
		}
		v := r.read(ctx, tasks)
		res.Started = r.started
		if err := r.route(ctx, v.route); err != nil {
			return res, err
		}
		update := svc.Update
		if svc.UpdateStarted.Before(r.since) {
			update = "" // an earlier deploy's verdict
		}
		switch {
		case update == "rollback_completed":
			res.Reverted, res.FailedAt, res.RevertedAt = true, r.e.now(), r.e.now()
			if r.cause != nil {
				return res, fmt.Errorf("%w: Swarm rolled %s back at Berth's request: %w", ErrReverted, r.name, r.cause)
			}
			return res, fmt.Errorf("%w: %s", ErrReverted, r.why(svc))
		case update == "rollback_paused":
			return res, fmt.Errorf("%w: Swarm paused the rollback of %s (%s): it needs a person", ErrRevertFailed, r.name, svc.UpdateMessage)
		case update == "paused" && !r.asked:
			r.rollback(ctx, fmt.Errorf("Swarm paused the update (%s)", svc.UpdateMessage))
		case v.failed != nil && r.fresh:
			return res, r.abandon(ctx, v.failed)
		case v.failed != nil && !r.asked:
			r.rollback(ctx, v.failed)
		case !r.asked && v.done && (r.fresh || update == "completed" || update == "" && time.Since(begun) > settle):
			// (Swarm starts no update for a spec whose tasks do not change.)
			res.Ready, res.Swapped, res.Gate = r.e.now(), r.e.now(), v.gate
			return res, nil
		case time.Now().After(deadline) && (r.asked || r.fresh):
			return res, fmt.Errorf("the service %s did not converge within %s: %s", r.name, wait, v.pending)
		case time.Now().After(deadline):
			r.rollback(ctx, fmt.Errorf("the rollout did not finish within %s: %s", wait, v.pending))
			deadline = time.Now().Add(wait)
		}
		select {
		case <-ctx.Done():
			return res, context.Cause(ctx)
		case <-time.After(poll):
		}
	}
}

// read gates the new version's running tasks one step each and works out
// the route: tasks of the old version that Swarm still wants running,
// and new ones that passed.
func (r *serviceRollout) read(ctx context.Context, tasks []docker.Task) taskView {
	w := r.d.Workload
	var v taskView
	want, passed, old := 0, 0, 0
	for _, t := range tasks {
		if t.Desired != "running" {
			if t.Hash() == w.Hash && t.Err != "" {
				r.lastErr = fmt.Sprintf("task %d: %s", t.Slot, t.Err)
			}
			continue
		}
		addr := t.Addr
		if t.Hash() != w.Hash {
			old++
			if t.State == "running" && addr != "" {
				v.route = append(v.route, addr)
			}
			continue
		}
		want++
		g := r.gates[t.ID]
		if g == nil {
			g = &taskGate{}
			r.gates[t.ID] = g
		}
		if t.State == "pending" && t.Err != "" {
			// Swarm cannot place it ("no suitable node"): the gate's
			// clock runs while it waits.
			if g.seen.IsZero() {
				g.seen = time.Now()
			} else if time.Since(g.seen) > placeWait && v.failed == nil {
				v.failed = fmt.Errorf("task %d cannot be placed: %s", t.Slot, t.Err)
			}
			continue
		}
		if t.State != "running" || w.Port > 0 && addr == "" {
			continue
		}
		if !g.passed && !r.asked {
			if err := r.step(ctx, g, addr); err != nil && v.failed == nil {
				v.failed = fmt.Errorf("task %d: %w", t.Slot, err)
			}
		}
		if g.passed {
			passed++
			v.gate = g.how
			if addr != "" {
				v.route = append(v.route, addr)
			}
		}
	}
	enough := want >= Replicas(w) || w.Mode == sources.ModeGlobal
	v.done = want > 0 && passed == want && old == 0 && enough
	v.pending = fmt.Sprintf("%d of %d new tasks passed the gate, %d old still running", passed, want, old)
	if v.gate != "" {
		v.gate = fmt.Sprintf("%d tasks, each: %s", passed, v.gate)
	}
	return v
}

// step asks one new task once: it passes on a 2xx from the healthcheck,
// or (without one) any answer below 500 and then the liveness window; a
// task without a port passes by staying up for the window. It fails when
// the gate's timeout passes first.
func (r *serviceRollout) step(ctx context.Context, g *taskGate, addr string) error {
	w, now := r.d.Workload, time.Now()
	if g.seen.IsZero() {
		g.seen = now
		if r.started.IsZero() {
			r.started = r.e.now()
		}
	}
	window := r.e.opts.LivenessWindow
	if w.Port == 0 {
		if now.Sub(g.seen) >= window {
			g.passed, g.how = true, fmt.Sprintf("no port: stayed up %s", window)
		}
		return nil
	}
	path, timeout, want, pass := "/", DefaultProbeTimeout, "an answer below 500", answer.serving
	if hc := w.Healthcheck; hc != nil {
		path, want, pass = hc.Path, "2xx", answer.success
		if hc.Timeout > 0 {
			timeout = hc.Timeout.Std()
		}
	}
	if g.answered.IsZero() {
		a, err := ask(ctx, addr, path)
		switch {
		case err == nil && pass(a):
			g.answered, g.how = now, fmt.Sprintf("GET %s answered %s after %s", path, a, now.Sub(g.seen).Round(100*time.Millisecond))
		case err == nil:
			g.last = a.String()
		}
		if g.answered.IsZero() {
			if now.Sub(g.seen) > timeout {
				return fmt.Errorf("%w: GET %s did not answer %s within %s (last: %s)", ErrNotReady, path, want, timeout, firstNonEmpty(g.last, "no answer"))
			}
			return nil
		}
	}
	if w.Healthcheck != nil {
		g.passed = true
	} else if now.Sub(g.answered) >= window {
		g.passed, g.how = true, g.how+fmt.Sprintf(", then stayed up %s", window)
	}
	return nil
}

// route keeps the route on the tasks that may take traffic; an empty set
// leaves it as it is (the old addresses are better than none).
func (r *serviceRollout) route(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	joined := joinSorted(addrs)
	if joined == r.routed {
		return nil
	}
	if err := r.e.routeTasks(ctx, r.d.Workload, router.SplitAddrs(joined)); err != nil {
		return err
	}
	r.routed = joined
	return nil
}

// rollback asks Swarm to roll the update back (once), for cause.
func (r *serviceRollout) rollback(ctx context.Context, cause error) {
	r.asked, r.cause = true, cause
	r.e.log.Warn("asking Swarm to roll the service back", "workload", r.d.Workload.ID(), "service", r.name, "cause", cause)
	if err := r.e.opts.Services.API.RollbackService(ctx, r.id); err != nil {
		r.cause = fmt.Errorf("%w; asking Swarm to roll back failed too: %w", cause, err)
	}
}

// abandon removes a service this deploy created whose first version
// failed: nothing served before, and nothing half-ready is left.
func (r *serviceRollout) abandon(ctx context.Context, cause error) error {
	if err := r.e.opts.Services.API.RemoveService(context.WithoutCancel(ctx), r.name); err != nil {
		r.e.log.Warn("removing the failed service failed", "workload", r.d.Workload.ID(), "service", r.name, "error", err)
	}
	return cause
}

// why says why Swarm rolled the update back on its own: its message and
// the last error of a task of the new version.
func (r *serviceRollout) why(svc docker.Service) string {
	msg := fmt.Sprintf("Swarm rolled %s back (%s)", r.name, svc.UpdateMessage)
	if r.lastErr != "" {
		msg += "; " + r.lastErr
	}
	return msg
}

// joinSorted is an upstream list in a stable order.
func joinSorted(addrs []string) string {
	s := slices.Clone(addrs)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
