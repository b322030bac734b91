package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/router"
)

// KindWorkloadMaintenance: a workload's route went into or out of
// maintenance.
const KindWorkloadMaintenance EventKind = "workload.maintenance"

// ErrNoRoute: maintenance needs a route to answer on.
var ErrNoRoute = errors.New("the workload has no route (route.hosts) to put in maintenance")

const maintenanceMeta = "maintenance_overrides"

// overrides are the workloads an operator put in maintenance, read from
// the state once and kept in memory (the caller holds tickMu).
func (a *Agent) overrides(ctx context.Context) map[string]bool {
	if a.maint != nil {
		return a.maint
	}
	a.maint = map[string]bool{}
	if v, err := a.store.Meta(ctx, maintenanceMeta); err == nil && v != "" {
		var ids []string
		if json.Unmarshal([]byte(v), &ids) == nil {
			for _, id := range ids {
				a.maint[id] = true
			}
		}
	}
	return a.maint
}

// SetMaintenance turns an operator's maintenance override of a workload
// on or off (berth maintenance APP/NAME on|off). It lasts until turned
// off, across restarts; it is not a pin and does not hold deploys back.
// The route changes now: in-flight requests finish on the old handler.
func (a *Agent) SetMaintenance(ctx context.Context, id string, on bool) error {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	d := a.cache.desired
	if d == nil {
		return fmt.Errorf("%w: %s (no config loaded yet)", ErrUnknownWorkload, id)
	}
	w := d.ByID()[id]
	switch {
	case w == nil:
		return fmt.Errorf("%w: %s", ErrUnknownWorkload, id)
	case w.Route == nil || len(w.Route.Hosts) == 0:
		return fmt.Errorf("%s: %w", id, ErrNoRoute)
	case a.opts.Router == nil:
		return errors.New("this agent manages no proxy (--router none): maintenance needs one")
	}
	ov := a.overrides(ctx)
	if ov[id] == on {
		return nil
	}
	if on {
		ov[id] = true
	} else {
		delete(ov, id)
	}
	ids := make([]string, 0, len(ov))
	for k := range ov {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	b, _ := json.Marshal(ids)
	if err := a.store.SetMeta(ctx, maintenanceMeta, string(b)); err != nil {
		return err
	}
	row, _, err := a.store.GetRuntime(ctx, id)
	if err != nil {
		return err
	}
	m := maintenanceOf(w, on)
	if row.Upstream != "" || m != nil {
		if err := a.opts.Router.Put(ctx, router.Route{ID: id, Hosts: w.Route.Hosts, Upstream: row.Upstream, Balanced: serviceRow(row), Maintenance: m}); err != nil {
			return fmt.Errorf("updating the route: %w", err)
		}
	}
	state := "off: the route serves the app again"
	switch {
	case on:
		state = "on (operator): the proxy answers 503 with the maintenance page; the app keeps running"
	case w.Route.Maintenance:
		state = "override off, but route.maintenance is true in git: the page stays"
	}
	a.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindWorkloadMaintenance), Severity: store.SeverityInfo, Commit: row.Commit,
		Message: fmt.Sprintf("maintenance of %s %s", id, state)})
	return nil
}

// Maintenance lists the workloads in maintenance by the operator's
// override.
func (a *Agent) Maintenance(ctx context.Context) []string {
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	out := make([]string, 0, len(a.overrides(ctx)))
	for id := range a.overrides(ctx) {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// RouteHosts are the hosts of every workload's route in the loaded
// config (the UI links them).
func (a *Agent) RouteHosts() map[string][]string {
	d := a.loadedDesired.Load()
	out := map[string][]string{}
	if d == nil {
		return out
	}
	for _, w := range d.Workloads {
		if w.Route != nil {
			out[w.ID()] = w.Route.Hosts
		}
	}
	return out
}
