package agent

import (
	"context"
	"time"
)

// reconcile applies the observations: rows follow the containers, a
// vanished container is reported, leftover copies are removed and routes
// follow the rows. It returns how many workloads changed observed state.
func (a *Agent) reconcile(ctx context.Context, obs []observation) int {
	changed := 0
	for _, ob := range obs {
		if ob.route != nil {
			a.fixRoute(ctx, ob.id, *ob.route)
		}
		if ob.write {
			if ob.changed {
				changed++
			}
			ob.next.UpdatedAt = time.Time{}
			if err := a.store.PutRuntime(ctx, ob.next); err != nil {
				a.log.Warn("updating runtime state failed", "workload", ob.id, "error", err)
			}
			if ob.missing {
				a.report.missing(ctx, ob.next)
			}
			if ob.recovered {
				a.report.recovered(ctx, ob.id, ob.next.Commit)
			}
		}
		for _, c := range ob.leftovers {
			a.containersChanged()
			a.log.Info("removing leftover container", "workload", ob.id, "container", c.Name)
			if err := a.docker.Remove(ctx, c.ID, 0); err != nil {
				a.log.Warn("removing leftover container failed", "workload", ob.id, "container", c.Name, "error", err)
			}
		}
	}
	return changed
}

func (a *Agent) fixRoute(ctx context.Context, id string, fix routeFix) {
	if fix.remove {
		if err := a.opts.Router.Remove(ctx, id); err != nil {
			a.log.Warn("removing the route failed", "workload", id, "error", err)
		}
		return
	}
	a.log.Info("repointing the route", "workload", id, "upstream", fix.route.Upstream, "maintenance", fix.route.Maintenance != nil)
	if err := a.opts.Router.Put(ctx, fix.route); err != nil {
		a.log.Warn("updating the route failed", "workload", id, "error", err)
	}
}

// markInvalid records workload files that became invalid: their row says
// so (the running version keeps running) and one event names file, line
// and field.
func (a *Agent) markInvalid(ctx context.Context, commit string, marks []invalidMark) {
	for _, m := range marks {
		m.row.UpdatedAt = time.Time{}
		if err := a.store.PutRuntime(ctx, m.row); err != nil {
			a.log.Warn("updating runtime state failed", "workload", m.inv.ID, "error", err)
		}
		a.report.invalid(ctx, commit, m)
	}
}

// checkRoutes puts back the routes an external proxy lost (it restarted
// without them): every tick, idle ones included, so a restarted proxy
// serves every route again within one tick.
func (a *Agent) checkRoutes(ctx context.Context) {
	if a.opts.Router == nil {
		return
	}
	n, err := a.opts.Router.Check(ctx)
	if err != nil {
		a.log.Warn("checking the proxy's routes failed; the next tick tries again", "error", err)
		return
	}
	if n > 0 {
		a.log.Warn("the proxy had lost routes: put back", "routes", n)
	}
}
