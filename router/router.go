package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/berthops/berth/internal/atomicfile"
)

// Driver loads a complete Caddy config.
type Driver interface {
	Load(ctx context.Context, routes []Route) error
}

// Router is the route table and the driver that applies it.
type Router struct {
	driver Driver
	path   string // routes.json in the state dir

	mu     sync.Mutex
	routes map[string]Route
}

// New returns a router whose table is persisted at path; the table saved
// there by an earlier run is restored (call Apply to load it).
func New(driver Driver, path string) (*Router, error) {
	r := &Router{driver: driver, path: path, routes: map[string]Route{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading route table: %w", err)
	}
	var saved struct {
		Routes []Route `json:"routes"`
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("reading route table %s: %w", path, err)
	}
	for _, rt := range saved.Routes {
		r.routes[rt.ID] = rt
	}
	return r, nil
}

// Apply loads the whole table into the proxy, as at start.
func (r *Router) Apply(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.driver.Load(ctx, r.list(r.routes))
}

// repairer is a driver whose proxy can lose routes behind the agent's
// back: an external proxy that restarts.
type repairer interface {
	Repair(ctx context.Context, routes []Route) (int, error)
}

// Check makes sure the proxy serves the table and returns how many routes
// it put back. With an external proxy that is one read of its config when
// nothing is missing; the embedded proxy lives in this process and cannot
// lose its table, so it is never asked.
func (r *Router) Check(ctx context.Context) (int, error) {
	rep, ok := r.driver.(repairer)
	if !ok {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return rep.Repair(ctx, r.list(r.routes))
}

// Get returns a workload's route.
func (r *Router) Get(id string) (Route, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt, ok := r.routes[id]
	return rt, ok
}

// Routes returns the table, sorted by id.
func (r *Router) Routes() []Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list(r.routes)
}

// Upsert points a workload's route at its upstream. It replaces the route
// in place (a pure upsert: never a delete first). When the proxy refuses
// the config, the table is unchanged and the error is returned.
// A route in maintenance stays in maintenance (a deploy during
// maintenance moves the upstream behind the page); Put sets it.
func (r *Router) Upsert(ctx context.Context, rt Route) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.routes[rt.ID]; ok && rt.Maintenance == nil {
		rt.Maintenance = cur.Maintenance
	}
	return r.put(ctx, rt)
}

// Put sets a workload's route exactly as given, maintenance included.
func (r *Router) Put(ctx context.Context, rt Route) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.put(ctx, rt)
}

func (r *Router) put(ctx context.Context, rt Route) error {
	if cur, ok := r.routes[rt.ID]; ok && cur.equal(rt) {
		return nil
	}
	next := make(map[string]Route, len(r.routes)+1)
	for k, v := range r.routes {
		next[k] = v
	}
	next[rt.ID] = rt
	return r.commit(ctx, next)
}

// Remove deletes a workload's route (when the workload is pruned or loses
// its route block).
func (r *Router) Remove(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.routes[id]; !ok {
		return nil
	}
	next := make(map[string]Route, len(r.routes))
	for k, v := range r.routes {
		if k != id {
			next[k] = v
		}
	}
	return r.commit(ctx, next)
}

// commit makes next the table: it is saved first, then loaded into the
// proxy, so what the proxy serves is never newer than the file a restart
// restores from. When the proxy refuses it, the saved table goes back to
// what it was.
func (r *Router) commit(ctx context.Context, next map[string]Route) error {
	list := r.list(next)
	if err := r.save(list); err != nil {
		return err
	}
	if err := r.driver.Load(ctx, list); err != nil {
		if rerr := r.save(r.list(r.routes)); rerr != nil {
			return errors.Join(err, fmt.Errorf("restoring the saved route table: %w", rerr))
		}
		return err
	}
	r.routes = next
	return nil
}

func (r *Router) list(m map[string]Route) []Route {
	out := make([]Route, 0, len(m))
	for _, rt := range m {
		out = append(out, rt)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// save writes the table to a temp file and renames it into place.
func (r *Router) save(list []Route) error {
	b, err := json.MarshalIndent(struct {
		Routes []Route `json:"routes"`
	}{list}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(r.path, b, 0o644); err != nil {
		return fmt.Errorf("saving route table: %w", err)
	}
	return nil
}

// releaser is a driver whose proxy keeps host owners (a berth proxy).
type releaser interface {
	Release(ctx context.Context, workload string) error
}

// Release lets another agent take over the workload's hosts (it moved
// there); this agent's route serves until it is removed.
func (r *Router) Release(ctx context.Context, workload string) error {
	if rel, ok := r.driver.(releaser); ok {
		return rel.Release(ctx, workload)
	}
	return nil
}
