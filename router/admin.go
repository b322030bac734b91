package router

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// Admin drives an external Caddy through its admin API. It owns only the
// routes whose @id carries its agent's namespace (RouteID): each is added,
// replaced or removed by its @id, one atomic admin call each, and the rest
// of that Caddy's config (other sites, other agents' routes, TLS, logging,
// the admin API itself) is never rewritten.
type Admin struct {
	api  *adminAPI
	opts ConfigOptions

	mu      sync.Mutex
	noDelay bool // the Caddy is too old for stream_close_delay
}

var _ Driver = (*Admin)(nil)

// NewAdmin returns a driver for the Caddy whose admin API is at base.
func NewAdmin(base string, opts ConfigOptions) (*Admin, error) {
	if sock := adminSocket(base); sock != "" {
		opts.Admin = "unix/" + sock
		opts.StreamCloseDelay = true
		api := &adminAPI{base: "http://berth-proxy", client: &http.Client{Timeout: 10 * time.Second, Transport: unixTransport(sock)}}
		return &Admin{api: api, opts: opts}, nil
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--caddy-admin %q is not a URL such as http://127.0.0.1:2019 or unix:///run/berth/proxy.sock", base)
	}
	opts.Admin = u.Host
	opts.StreamCloseDelay = true
	return &Admin{api: newAdminAPI(base), opts: opts}, nil
}

// Ping reports whether the admin API answers.
func (a *Admin) Ping(ctx context.Context) error {
	_, err := a.api.config(ctx)
	return err
}

// StartedByBerth reports whether the Caddy runs a config `berth proxy`
// made (its server carries ProxyID).
func (a *Admin) StartedByBerth(ctx context.Context) (bool, error) {
	cfg, err := a.api.config(ctx)
	if err != nil {
		return false, err
	}
	_, ok := findIDs(cfg)[ProxyID]
	return ok, nil
}

// Load makes routes the agent's routes in the Caddy.
func (a *Admin) Load(ctx context.Context, routes []Route) error {
	_, err := a.Repair(ctx, routes)
	return err
}

// Repair is Load that counts the routes the Caddy lacked or served
// differently (a proxy that restarted without them). When nothing is
// missing it is one read of the Caddy's config.
func (a *Admin) Repair(ctx context.Context, routes []Route) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, err := a.sync(ctx, routes, !a.noDelay)
	if err != nil && !a.noDelay && strings.Contains(err.Error(), "stream_close_delay") {
		// An older Caddy (Debian's 2.6) does not know the field: streams
		// then close on reload, which is what that Caddy can do.
		a.noDelay = true
		n, err = a.sync(ctx, routes, false)
	}
	return n, err
}

// sync reads the running config and changes only what differs: a route
// swap is one PATCH of the route by its @id, so there is never a moment
// without the route. A failure part way leaves some routes changed; the
// next Load converges from what Caddy actually runs.
func (a *Admin) sync(ctx context.Context, routes []Route, delay bool) (int, error) {
	cfg, err := a.api.config(ctx)
	if err != nil {
		return 0, err
	}
	ids := findIDs(cfg)
	opts := a.opts
	opts.StreamCloseDelay = delay
	want := map[string]map[string]any{}
	for _, r := range routes {
		if rc := routeConfig(r, opts); rc != nil {
			want[RouteID(opts.Agent, r.ID)] = rc
		}
	}
	server, changed := "", 0
	for _, id := range sortedKeys(want) {
		rc := want[id]
		if have, ok := ids[id]; ok {
			if sameJSON(have, rc) {
				continue
			}
			if err := a.api.change(ctx, "PATCH", "/id/"+id, rc, hasRoute(id, rc)); err != nil {
				return changed, fmt.Errorf("replacing route %s: %w", id, err)
			}
			changed++
			continue
		}
		if server == "" {
			if server, err = a.server(ctx, cfg); err != nil {
				return changed, err
			}
		}
		if err := a.api.change(ctx, "PUT", server+"/routes/0", rc, hasRoute(id, rc)); err != nil {
			return changed, fmt.Errorf("adding route %s: %w", id, err)
		}
		changed++
	}
	return changed, a.removeStale(ctx, ids, want, routes)
}

// removeStale deletes the agent's routes that are no longer wanted, and
// the un-namespaced ids older versions gave the same workloads.
func (a *Admin) removeStale(ctx context.Context, ids map[string]any, want map[string]map[string]any, routes []Route) error {
	prefix := RouteID(a.opts.Agent, "")
	var stale []string
	for id := range ids {
		if _, ok := want[id]; !ok && strings.HasPrefix(id, prefix) {
			stale = append(stale, id)
		}
	}
	for _, r := range routes {
		if _, ok := ids[legacyRouteID(r.ID)]; ok {
			stale = append(stale, legacyRouteID(r.ID))
		}
	}
	sort.Strings(stale)
	for _, id := range stale {
		if err := a.api.change(ctx, "DELETE", "/id/"+id, nil, func(cfg any) bool { _, ok := findIDs(cfg)[id]; return !ok }); err != nil {
			return fmt.Errorf("removing route %s: %w", id, err)
		}
	}
	return nil
}

// server is the config path of the HTTP server the agent's routes go in:
// the one `berth proxy` marked, else the one listening on the --http
// port, else a server of the agent's own, created (with any missing
// parents) without touching anything else.
func (a *Admin) server(ctx context.Context, cfg any) (string, error) {
	servers := dig(cfg, "apps", "http", "servers")
	names := sortedKeys(servers)
	for _, name := range names {
		if id, _ := dig(servers, name)["@id"].(string); id == ProxyID {
			return a.ensureRoutes(ctx, servers, name)
		}
	}
	for _, name := range names {
		if listensOn(dig(servers, name)["listen"], a.opts.HTTP) {
			return a.ensureRoutes(ctx, servers, name)
		}
	}
	name := "berth_" + a.opts.Agent
	srv := map[string]any{"listen": []string{a.opts.HTTP}, "routes": []any{notFound()}}
	if a.opts.HTTPS == "" {
		srv["automatic_https"] = map[string]any{"disable": true}
	} else {
		srv["listen"] = []string{a.opts.HTTP, a.opts.HTTPS}
	}
	path, value := "/config/apps/http/servers/"+name, any(srv)
	switch {
	case cfg == nil:
		path, value = "/config/", map[string]any{"admin": map[string]any{"listen": a.opts.Admin},
			"apps": map[string]any{"http": map[string]any{"servers": map[string]any{name: srv}}}}
	case dig(cfg, "apps") == nil:
		path, value = "/config/apps", map[string]any{"http": map[string]any{"servers": map[string]any{name: srv}}}
	case dig(cfg, "apps", "http") == nil:
		path, value = "/config/apps/http", map[string]any{"servers": map[string]any{name: srv}}
	case servers == nil:
		path, value = "/config/apps/http/servers", map[string]any{name: srv}
	}
	if err := a.api.change(ctx, "POST", path, value, func(cfg any) bool { return dig(cfg, "apps", "http", "servers", name) != nil }); err != nil {
		return "", fmt.Errorf("adding server %s for the agent's routes: %w", name, err)
	}
	return "/config/apps/http/servers/" + name, nil
}

func (a *Admin) ensureRoutes(ctx context.Context, servers map[string]any, name string) (string, error) {
	path := "/config/apps/http/servers/" + url.PathEscape(name)
	if _, ok := dig(servers, name)["routes"]; !ok {
		if err := a.api.change(ctx, "POST", path+"/routes", []any{}, func(cfg any) bool {
			_, ok := dig(cfg, "apps", "http", "servers", name)["routes"]
			return ok
		}); err != nil {
			return "", fmt.Errorf("adding a route list to server %s: %w", name, err)
		}
	}
	return path, nil
}

// listensOn reports whether a server's listen addresses include addr's
// port (":80" matches ":80", "0.0.0.0:80" and "tcp/:80").
func listensOn(listen any, addr string) bool {
	want, err := port(addr)
	if err != nil {
		return false
	}
	list, _ := listen.([]any)
	for _, l := range list {
		s, _ := l.(string)
		if i := strings.Index(s, "/"); i >= 0 {
			s = s[i+1:]
		}
		if p, err := port(s); err == nil && p == want {
			return true
		}
	}
	return false
}

// hasRoute reports whether the config serves the route rc under id.
func hasRoute(id string, rc map[string]any) func(cfg any) bool {
	return func(cfg any) bool {
		have, ok := findIDs(cfg)[id]
		return ok && sameJSON(have, rc)
	}
}

// findIDs collects every object in the config that has an @id.
func findIDs(v any) map[string]any {
	out := map[string]any{}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if id, ok := t["@id"].(string); ok {
				out[id] = t
			}
			for _, c := range t {
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

// dig walks nested objects; it returns nil where the path ends.
func dig(v any, keys ...string) map[string]any {
	m, _ := v.(map[string]any)
	for _, k := range keys {
		if m == nil {
			return nil
		}
		m, _ = m[k].(map[string]any)
	}
	return m
}

// sameJSON compares what Caddy holds with what Berth would write, both as
// decoded JSON.
func sameJSON(have any, want map[string]any) bool {
	w, err := roundTrip(want)
	return err == nil && reflect.DeepEqual(have, w)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Release tells a `berth proxy` that this agent's route for workload may
// be taken over: the workload moved to another agent, whose route for
// the same hosts is then accepted (a host otherwise belongs to the agent
// that routed it first). This agent's route keeps serving until it is
// removed. A Caddy that is not a berth proxy has no owners: nothing to do.
func (a *Admin) Release(ctx context.Context, workload string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.api.base+releasePath+RouteID(a.opts.Agent, workload), nil)
	if err != nil {
		return err
	}
	resp, err := a.api.client.Do(req)
	if err != nil {
		return fmt.Errorf("releasing the route of %s: %w", workload, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil // not a berth proxy
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("releasing the route of %s: the proxy answered %s", workload, resp.Status)
	}
	return nil
}

// releasePath is the berth proxy's endpoint for Release.
const releasePath = "/berth/release/"
