package agent

import (
	"sort"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
)

// observation brings one row in line with what runs.
type observation struct {
	id        string
	next      store.Runtime
	write     bool // the row changed
	changed   bool // the observed state changed (a person would notice)
	missing   bool // the serving container just vanished
	recovered bool // a failure ended without a deploy (git went back)
	leftovers []docker.Container
	route     *routeFix
}

// routeFix repoints or removes a workload's route.
type routeFix struct {
	remove bool
	route  router.Route
}

// decideObservations brings every row not handled by a deploy in line
// with the containers in the snapshot: status follows the container,
// vanished ones are missing, leftover copies go (with cleanup), and routes
// follow the row.
func decideObservations(s *snapshot, valid map[string]*sources.Workload, handled map[string]bool, o decideOptions) []observation {
	ids := make([]string, 0, len(s.rows))
	for id := range s.rows {
		if !handled[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []observation
	for _, id := range ids {
		ob := observe(s.rows[id], s.containers[id], valid[id])
		row := s.rows[id]
		if s.tasksRead && (serviceRow(row) || row.Kind == string(sources.KindStack)) {
			observeTasks(&ob, row, s.tasks[id], valid[id])
		}
		if row.Suspended {
			ob.leftovers, ob.route = nil, nil // a suspended workload is watched, not touched
		} else if o.routes != nil && serviceRow(row) && s.tasksRead {
			if w := valid[id]; w != nil {
				ob.route = serviceRouteFix(w, ob.next.Upstream, o.routes, maintenanceOf(w, o.overrides[id]))
			}
		} else if o.routes != nil && current(s.rows[id], s.containers[id]) != nil {
			ob.route = routeFollows(id, valid[id], ob.next.Upstream, o.routes, o.overrides[id])
		}
		if o.cleanup && valid[id] != nil && !sources.Kind(ob.next.Kind).Managed() && !serviceRow(row) && !row.Suspended {
			ob.leftovers = leftovers(ob.next, s.containers[id]) // compose and Swarm remove their own
		}
		if ob.write || ob.route != nil || len(ob.leftovers) > 0 {
			out = append(out, ob)
		}
	}
	return out
}

// routeFollows points a serving workload's route at its container. A
// workload whose file is invalid now keeps serving its last good version,
// so its route keeps its hosts and follows the container too (Docker
// publishes a new port when it restarts one).
func routeFollows(id string, w *sources.Workload, upstream string, routes map[string]router.Route, override bool) *routeFix {
	if w != nil {
		return routeFixFor(w, upstream, routes, maintenanceOf(w, override))
	}
	cur, ok := routes[id]
	if !ok || upstream == "" || cur.Upstream == upstream {
		return nil
	}
	return &routeFix{route: router.Route{ID: id, Hosts: cur.Hosts, Upstream: upstream, Maintenance: cur.Maintenance}}
}

// maintenanceOf is what a workload's route answers while in maintenance
// (git's route.maintenance, or an operator's override); nil otherwise.
func maintenanceOf(w *sources.Workload, override bool) *router.Maintenance {
	if w.Route == nil || !w.Route.Maintenance && !override {
		return nil
	}
	return &router.Maintenance{Page: w.Route.Page}
}

// observe is the status part of reconcile: what the row should say now.
func observe(row store.Runtime, cs []docker.Container, w *sources.Workload) observation {
	next := row
	c := current(row, cs)
	switch {
	case row.Kind == string(sources.KindStack):
		// Swarm schedules the tasks (on any node) and heals them; the
		// status is the last rollout's verdict.
	case row.Kind == string(sources.KindCompose):
		next.Status = stackStatus(cs)
	case c != nil:
		next.Status = c.State
		if up := engine.Upstream(*c); up != "" {
			next.Upstream = up // Docker may publish a new port after a restart
		}
	case row.ContainerID != "":
		next.Status = store.StatusMissing
	}
	if w != nil && row.LastDeploy == store.DeployInvalid {
		// The file is valid again at the hash already applied.
		next.LastDeploy, next.Message = store.DeploySucceeded, ""
	}
	ob := observation{id: row.WorkloadID, next: next}
	if w != nil && row.FailedHash != "" && w.Hash == row.AppliedHash && next.Status == store.StatusRunning {
		// git went back to what serves: the failure is over.
		clearFailure(&ob.next)
		ob.recovered = true
	}
	ob.changed = next.Status != row.Status || ob.recovered
	ob.write = ob.changed || ob.next.LastDeploy != row.LastDeploy || next.Upstream != row.Upstream
	ob.missing = next.Status == store.StatusMissing && row.Status != store.StatusMissing
	return ob
}

// stackStatus sums up a compose stack's containers.
func stackStatus(cs []docker.Container) string {
	if len(cs) == 0 {
		return store.StatusMissing
	}
	for _, c := range cs {
		if !c.Running() {
			return store.StatusDegraded
		}
	}
	return store.StatusRunning
}

func leftovers(row store.Runtime, cs []docker.Container) []docker.Container {
	var out []docker.Container
	for _, c := range cs {
		if c.ID != row.ContainerID {
			out = append(out, c)
		}
	}
	return out
}

// routeFixFor keeps the proxy pointing at the container the row names:
// after a crash between the swap and the record, after Docker gave a
// restarted container a new port, or when the route block changed.
func routeFixFor(w *sources.Workload, upstream string, routes map[string]router.Route, m *router.Maintenance) *routeFix {
	cur, has := routes[w.ID()]
	switch {
	case w.Route == nil && has:
		return &routeFix{remove: true, route: cur}
	case w.Route != nil && (upstream != "" || m != nil):
		// In maintenance the page shows even when the app is down.
		want := router.Route{ID: w.ID(), Hosts: w.Route.Hosts, Upstream: upstream, Maintenance: m}
		if has && cur.Equal(want) {
			return nil
		}
		return &routeFix{route: want}
	}
	return nil
}
