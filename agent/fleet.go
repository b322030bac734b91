package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/fault"
)

// fleetReader reads every agent's folder on the status branch (the
// status writer does, from its own clone).
type fleetReader interface {
	Fleet(ctx context.Context, now time.Time) (*gitops.Fleet, error)
}

// ErrNoFleet means status push-back is off: there is no branch to read.
var ErrNoFleet = errors.New("status push-back is off (--status-branch \"\"): there is no fleet to read")

// fleetCache keeps the last fleet read a short while, so a page that
// polls does not make a fetch per request.
type fleetCache struct {
	mu sync.Mutex
	at time.Time
	f  *gitops.Fleet
}

// fleetAPIMaxAge is how old a fleet /api/fleet answers with may be.
const fleetAPIMaxAge = 15 * time.Second

// readFleet fetches the status branch and reads it (within --git-timeout),
// or answers from a read younger than maxAge.
func (a *Agent) readFleet(ctx context.Context, maxAge time.Duration) (*gitops.Fleet, error) {
	fr, ok := a.report.status.(fleetReader)
	if !ok {
		return nil, ErrNoFleet
	}
	a.fleet.mu.Lock()
	defer a.fleet.mu.Unlock()
	if a.fleet.f != nil && a.now().Sub(a.fleet.at) < maxAge {
		return a.fleet.f, nil
	}
	var f *gitops.Fleet
	err := fault.Deadline(ctx, a.opts.Timeouts.Git, "--git-timeout", func(ctx context.Context) (err error) {
		f, err = fr.Fleet(ctx, a.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	a.fleet.f, a.fleet.at = f, a.now()
	return f, nil
}

// Fleet reads the status branch for the API (a read up to 15 s old is
// reused).
func (a *Agent) Fleet(ctx context.Context) (*gitops.Fleet, error) {
	return a.readFleet(ctx, fleetAPIMaxAge)
}

// holdMoves keeps, among the prunes, the workloads that moved to other
// agents and have a route here, until an agent of their new placement
// reports them running: with a proxy on both sides for the same hosts,
// the new copy is ready before this one goes. Without status push-back
// or a proxy there is nothing to wait for, and they are pruned at once.
func (a *Agent) holdMoves(ctx context.Context, commit string, d *gitops.Desired, p *plan) {
	moving := map[string]bool{}
	defer func() { a.moving = moving }()
	if a.opts.Router == nil || a.report.status == nil || len(d.Elsewhere) == 0 {
		return
	}
	var f *gitops.Fleet
	var ferr error
	kept := p.prune[:0:0]
	for _, pr := range p.prune {
		w := d.Elsewhere[pr.id]
		if w == nil || w.Route == nil {
			kept = append(kept, pr) // deleted, or nothing routed here
			continue
		}
		if f == nil && ferr == nil {
			f, ferr = a.readFleet(ctx, 0)
		}
		var by []string
		if ferr == nil {
			by = f.Serving(pr.id, func(fa gitops.FleetAgent) bool {
				return fa.Agent != a.opts.Name && w.Placement.Places(fa.Agent, fa.Labels)
			})
		}
		if len(by) > 0 {
			a.log.Info("moved workload serves on its new agents: pruning it here", "workload", pr.id, "agents", strings.Join(by, ","))
			kept = append(kept, pr)
			continue
		}
		moving[pr.id] = true
		if !a.moving[pr.id] {
			a.report.moving(ctx, pr.id, commit, ferr)
		}
		// A proxy shared with the new agents must let them route the
		// hosts (said every tick: a restarted proxy forgets).
		if err := a.opts.Router.Release(ctx, pr.id); err != nil {
			a.log.Warn("releasing the moving workload's route failed", "workload", pr.id, "error", err)
		}
	}
	p.prune = kept
}

func (r *reporter) moving(ctx context.Context, id, commit string, ferr error) {
	msg := fmt.Sprintf("%s was placed on other agents at %s: it keeps serving here until one of them reports it running", id, shortSHA(commit))
	if ferr != nil {
		msg += " (the status branch cannot be read now: " + ferr.Error() + ")"
	}
	r.log.Info("workload moving", "workload", id, "detail", msg)
	r.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindWorkloadMoving), Severity: store.SeverityInfo, Commit: commit, Message: msg})
}
