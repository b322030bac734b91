// Package router points route hosts at workload containers through Caddy.
// One route table, persisted in the state dir, renders one Caddy JSON
// config; two drivers load it: Caddy embedded in the agent process, or an
// external Caddy through its admin API. Every change loads a whole config,
// so a route swap is a pure upsert: there is never a moment without the
// route.
package router

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// Route sends requests for Hosts to Upstream (127.0.0.1:port).
type Route struct {
	ID    string   `json:"id"` // the workload id
	Hosts []string `json:"hosts"`
	// Upstream is the address requests go to; a Swarm service's route
	// names each task's address, joined by commas (see Addrs).
	Upstream string `json:"upstream"`
	// Balanced spreads requests over the addresses and retries one that
	// refuses the connection on another (a task stopping mid-rollout).
	Balanced bool `json:"balanced,omitempty"`
	// Maintenance, when set, answers every request with 503 and a page
	// instead of proxying (the app keeps running).
	Maintenance *Maintenance `json:"maintenance,omitempty"`
}

// Maintenance is what a route in maintenance answers.
type Maintenance struct {
	// Page is the HTML page; "" is a plain default in the visitor's
	// language (English or Russian, by Accept-Language).
	Page string `json:"page,omitempty"`
	// RetryAfter is the Retry-After header, in seconds (default 120).
	RetryAfter int `json:"retry_after,omitempty"`
}

func (m *Maintenance) equal(o *Maintenance) bool {
	if m == nil || o == nil {
		return m == o
	}
	return *m == *o
}

// Equal reports whether two routes serve the same way.
func (r Route) Equal(o Route) bool { return r.equal(o) }

func (r Route) equal(o Route) bool {
	if r.ID != o.ID || r.Upstream != o.Upstream || r.Balanced != o.Balanced || len(r.Hosts) != len(o.Hosts) || !r.Maintenance.equal(o.Maintenance) {
		return false
	}
	for i := range r.Hosts {
		if r.Hosts[i] != o.Hosts[i] {
			return false
		}
	}
	return true
}

// Addrs are the route's upstream addresses.
func (r Route) Addrs() []string { return SplitAddrs(r.Upstream) }

// SplitAddrs splits an upstream list ("a:1,b:2") into its addresses.
func SplitAddrs(upstream string) []string {
	var out []string
	for _, a := range strings.Split(upstream, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// balancing is the load-balancing block of a balanced route: a request
// whose upstream refuses the connection is tried on another for up to 5s.
func balancing() map[string]any {
	return map[string]any{"selection_policy": map[string]any{"policy": "round_robin"},
		"try_duration": "5s", "try_interval": "50ms"}
}

// ConfigOptions shape the rendered Caddy config.
type ConfigOptions struct {
	HTTP  string // listen address for HTTP, e.g. ":80"
	HTTPS string // listen address for HTTPS; "" turns TLS off
	// Admin is the admin API listen address to keep ("" disables it).
	Admin string
	// StorageDir holds certificates; "" leaves Caddy's default.
	StorageDir string
	// StreamCloseDelay keeps SSE and WebSocket streams open across a config
	// reload (Caddy 2.7+); older Caddy rejects the field.
	StreamCloseDelay bool
	// DynamicUpstreams leaves upstream addresses out of the config: the
	// embedded proxy reads them from its live table per request.
	DynamicUpstreams bool
	// Agent namespaces the routes' @ids (see RouteID).
	Agent string
	// ACME points automatic HTTPS at another CA.
	ACME ACMEOptions
}

// ACMEOptions name the ACME CA automatic HTTPS uses instead of Caddy's
// defaults (Let's Encrypt, then ZeroSSL).
type ACMEOptions struct {
	CA    string   // the directory URL
	Email string   // the account's contact
	Roots []string // PEM files of roots to trust for the CA's own HTTPS
	// RenewInterval is how often certificates are checked for renewal
	// (0: Caddy's 10m); short-lived certificates of a private CA need less.
	RenewInterval time.Duration
}

// tlsApp renders the issuer policy for a configured ACME CA, or nil.
func (a ACMEOptions) tlsApp() map[string]any {
	if a.CA == "" {
		return nil
	}
	issuer := map[string]any{"module": "acme", "ca": a.CA}
	if a.Email != "" {
		issuer["email"] = a.Email
	}
	if len(a.Roots) > 0 {
		issuer["trusted_roots_pem_files"] = a.Roots
	}
	automation := map[string]any{"policies": []any{map[string]any{"issuers": []any{issuer}}}}
	if a.RenewInterval > 0 {
		automation["renew_interval"] = a.RenewInterval.String()
	}
	return map[string]any{"automation": automation}
}

// RouteID is the @id of a workload's route in the Caddy config:
// "berth_<agent>_<app>_<name>". Agent names have no "_", so an agent's
// prefix never matches another agent's routes, and the id maps back to one
// workload.
func RouteID(agent, workload string) string {
	return "berth_" + agent + "_" + strings.ReplaceAll(workload, "/", "_")
}

// legacyRouteID is the @id routes had before ids were namespaced by agent.
func legacyRouteID(workload string) string {
	return "berth-" + strings.ReplaceAll(workload, "/", "_")
}

// ProxyID marks the server of a Caddy that Berth started (`berth proxy`):
// `--router auto` only uses a Caddy whose config carries it.
const ProxyID = "berth-proxy"

// Default maintenance pages, by the visitor's language.
const (
	maintenancePageEN = "<!doctype html>\n<html lang=\"en\"><meta charset=\"utf-8\"><title>Down for maintenance</title>\n" +
		"<body style=\"font-family:sans-serif;max-width:36em;margin:4em auto\"><h1>Down for maintenance</h1>\n" +
		"<p>This site is being worked on and will be back shortly. Please try again in a few minutes.</p></body></html>\n"
	maintenancePageRU = "<!doctype html>\n<html lang=\"ru\"><meta charset=\"utf-8\"><title>Технические работы</title>\n" +
		"<body style=\"font-family:sans-serif;max-width:36em;margin:4em auto\"><h1>Технические работы</h1>\n" +
		"<p>Сайт временно недоступен и скоро вернётся. Попробуйте, пожалуйста, через несколько минут.</p></body></html>\n"
)

// maintenanceHandle is what a route in maintenance does: 503, its page,
// Retry-After; the default page follows Accept-Language.
func maintenanceHandle(m *Maintenance) []any {
	retry := m.RetryAfter
	if retry <= 0 {
		retry = 120
	}
	page := func(body string) map[string]any {
		return map[string]any{"handler": "static_response", "status_code": 503, "body": body, "close": false,
			"headers": map[string]any{"Retry-After": []any{fmt.Sprint(retry)}, "Content-Type": []any{"text/html; charset=utf-8"},
				"Cache-Control": []any{"no-store"}}}
	}
	if m.Page != "" {
		return []any{page(m.Page)}
	}
	return []any{map[string]any{"handler": "subroute", "routes": []any{
		map[string]any{"match": []any{map[string]any{"header_regexp": map[string]any{"Accept-Language": map[string]any{"pattern": "^\\s*ru"}}}},
			"handle": []any{page(maintenancePageRU)}, "terminal": true},
		map[string]any{"handle": []any{page(maintenancePageEN)}},
	}}}
}

// routeConfig renders one route, or nil for a route that serves nothing.
func routeConfig(r Route, o ConfigOptions) map[string]any {
	if len(r.Hosts) == 0 || r.Upstream == "" && r.Maintenance == nil {
		return nil
	}
	if r.Maintenance != nil && !o.DynamicUpstreams {
		return map[string]any{
			"@id":      RouteID(o.Agent, r.ID),
			"match":    []any{map[string]any{"host": r.Hosts}},
			"handle":   maintenanceHandle(r.Maintenance),
			"terminal": true,
		}
	}
	proxy := map[string]any{"handler": "reverse_proxy"}
	if o.DynamicUpstreams {
		proxy["dynamic_upstreams"] = map[string]any{"source": "berth", "route": r.ID}
	} else {
		var ups []any
		for _, a := range r.Addrs() {
			ups = append(ups, map[string]any{"dial": a})
		}
		proxy["upstreams"] = ups
	}
	if r.Balanced {
		proxy["load_balancing"] = balancing()
	}
	if o.StreamCloseDelay {
		proxy["stream_close_delay"] = "5m"
	}
	handle := []any{proxy}
	if o.DynamicUpstreams {
		// Maintenance is decided per request (maintenance.go): turning it
		// on or off changes no config.
		handle = []any{map[string]any{"handler": "berth_maintenance", "route": r.ID}, proxy}
	}
	return map[string]any{
		"@id":      RouteID(o.Agent, r.ID),
		"match":    []any{map[string]any{"host": r.Hosts}},
		"handle":   handle,
		"terminal": true,
	}
}

// notFound answers hosts without a route with a clear 404, not Caddy's
// empty 200.
func notFound() map[string]any {
	return map[string]any{
		"handle": []any{map[string]any{"handler": "static_response", "status_code": 404, "body": "berth: no route for this host\n"}},
	}
}

// BuildConfig renders the routes into a complete Caddy JSON config.
// Routes without an upstream are left out.
func BuildConfig(routes []Route, o ConfigOptions) ([]byte, error) {
	sorted := append([]Route(nil), routes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	var rs []any
	for _, r := range sorted {
		if rc := routeConfig(r, o); rc != nil {
			rs = append(rs, rc)
		}
	}
	return buildConfig(rs, o)
}

// buildConfig renders a complete Caddy JSON config around rendered routes:
// one server on the listeners of o, the routes, then the 404 for unknown
// hosts. Caddy never writes its config outside the state dir (no
// autosave) and never installs its local CA into the host's trust store.
func buildConfig(rs []any, o ConfigOptions) ([]byte, error) {
	if o.HTTPS != "" {
		if r := redirectRoute(rs, o.HTTPS); r != nil {
			rs = append([]any{r}, rs...)
		}
	}
	rs = append(rs, notFound())
	listen := []string{heldAddr(o.HTTP)}
	server := map[string]any{"@id": ProxyID, "routes": rs}
	httpApp := map[string]any{"grace_period": "10s"}
	if o.HTTPS == "" {
		server["automatic_https"] = map[string]any{"disable": true}
	} else {
		if local := localHosts(rs); len(local) > 0 {
			server["automatic_https"] = map[string]any{"skip": local}
		}
		listen = append(listen, heldAddr(o.HTTPS))
		if p, err := port(o.HTTP); err == nil {
			httpApp["http_port"] = p
		}
		if p, err := port(o.HTTPS); err == nil {
			httpApp["https_port"] = p
		}
	}
	server["listen"] = listen
	httpApp["servers"] = map[string]any{"berth": server}
	apps := map[string]any{"http": httpApp}
	if o.HTTPS != "" {
		// Local names get certificates from Caddy's own CA; it must not
		// add that CA to what the host trusts.
		apps["pki"] = map[string]any{"certificate_authorities": map[string]any{"local": map[string]any{"install_trust": false}}}
		if t := o.ACME.tlsApp(); t != nil {
			apps["tls"] = t
		}
	}
	cfg := map[string]any{
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps":    apps,
	}
	admin := map[string]any{"config": map[string]any{"persist": false}}
	if o.Admin == "" {
		admin["disabled"] = true
	} else {
		admin["listen"] = o.Admin
	}
	cfg["admin"] = admin
	if o.StorageDir != "" {
		cfg["storage"] = map[string]any{"module": "file_system", "root": o.StorageDir}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendering the Caddy config: %w", err)
	}
	return b, nil
}

// localHosts are the route hosts no public CA certifies (localhost,
// *.localhost, *.local, *.internal, private IPs), sorted: they are served
// on HTTP only, without a redirect and without a certificate from Caddy's
// own CA, unless the operator configures TLS for them.
func localHosts(rs []any) []string {
	local, _ := splitHosts(rs)
	return local
}

// splitHosts sorts the hosts of rendered routes into local and public.
func splitHosts(rs []any) (local, public []string) {
	seen := map[string]bool{}
	for _, rt := range rs {
		match, _ := dig(rt)["match"].([]any)
		for _, m := range match {
			var hosts []string
			switch h := dig(m)["host"].(type) {
			case []string:
				hosts = h
			case []any:
				for _, v := range h {
					if s, ok := v.(string); ok {
						hosts = append(hosts, s)
					}
				}
			}
			for _, h := range hosts {
				seen[h] = certmagic.SubjectQualifiesForPublicCert(h)
			}
		}
	}
	for _, h := range sortedKeys(seen) {
		if seen[h] {
			public = append(public, h)
		} else {
			local = append(local, h)
		}
	}
	return local, public
}

// redirectID is the @id of the route that sends plain HTTP to HTTPS.
const redirectID = "berth-https-redirect"

// redirectRoute sends plain-HTTP requests for the public hosts of rs to
// HTTPS, or is nil when there are none. It goes first: the redirects
// Caddy adds itself come after the routes with host matchers, which would
// answer first on HTTP.
func redirectRoute(rs []any, httpsAddr string) map[string]any {
	_, public := splitHosts(rs)
	if len(public) == 0 {
		return nil
	}
	to := "https://{http.request.host}{http.request.uri}"
	if p, err := port(httpsAddr); err == nil && p != 443 {
		to = fmt.Sprintf("https://{http.request.host}:%d{http.request.uri}", p)
	}
	return map[string]any{
		"@id":   redirectID,
		"match": []any{map[string]any{"protocol": "http", "host": public}},
		"handle": []any{map[string]any{"handler": "static_response", "status_code": 308,
			"headers": map[string]any{"Location": []string{to}}}},
		"terminal": true,
	}
}

func port(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}
