package router

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
)

// handlers are the Caddy handlers a route may use through `berth
// proxy`'s admin API: the ones Berth's own routes are made of.
var handlers = map[string]bool{"reverse_proxy": true, "static_response": true, "subroute": true, "berth_maintenance": true}

// checkRoute refuses a route change whose body could make the proxy reach
// anything but a TCP port on this machine's loopback: another handler
// (file_server would serve the host's files), a transport of its own, an
// upstream on a unix socket (the Docker API) or another host, or
// upstreams from another source. Anyone on loopback can call the admin
// API: what it accepts must be harmless.
func checkRoute(body []byte) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil // a DELETE
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	return walkRoute(v)
}

func walkRoute(v any) error {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if err := walkRoute(e); err != nil {
				return err
			}
		}
	case map[string]any:
		if h, ok := t["handler"]; ok {
			name, _ := h.(string)
			if !handlers[name] {
				return fmt.Errorf("the handler %q is not one a route may use (reverse_proxy, static_response, subroute, berth_maintenance)", name)
			}
		}
		if _, ok := t["transport"]; ok {
			return fmt.Errorf("a route may not set its own transport")
		}
		if d, ok := t["dynamic_upstreams"].(map[string]any); ok && d["source"] != "berth" {
			return fmt.Errorf("dynamic upstreams may only come from berth")
		}
		if d, ok := t["dial"]; ok {
			s, _ := d.(string)
			if !loopbackTCP(s) {
				return fmt.Errorf("the upstream %q is not a TCP port on loopback", s)
			}
		}
		for _, e := range t {
			if err := walkRoute(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// loopbackTCP reports whether a Caddy dial address is host:port on a
// loopback IP (no network prefix such as unix/ or udp/).
func loopbackTCP(dial string) bool {
	if strings.Contains(dial, "/") {
		return false
	}
	host, port, err := net.SplitHostPort(dial)
	if err != nil || port == "" || strings.ContainsAny(port, "-{") {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostOwners maps each host a route of the config serves to the @id of
// that route.
func hostOwners(cfg any) map[string]string {
	out := map[string]string{}
	for _, srv := range dig(cfg, "apps", "http", "servers") {
		list, _ := dig(srv)["routes"].([]any)
		for _, rt := range list {
			id, _ := dig(rt)["@id"].(string)
			for _, h := range routeHosts(rt) {
				if _, taken := out[h]; !taken && id != "" {
					out[h] = id
				}
			}
		}
	}
	return out
}

// routeHosts are the hosts a route matches.
func routeHosts(rt any) []string {
	var out []string
	ms, _ := dig(rt)["match"].([]any)
	for _, m := range ms {
		hs, _ := dig(m)["host"].([]any)
		for _, h := range hs {
			if s, ok := h.(string); ok {
				out = append(out, strings.ToLower(s))
			}
		}
	}
	return out
}

// routeAgent is the agent in a route id berth_<agent>_<app>_<name> (agent
// names have no "_"); "" for another id.
func routeAgent(id string) string {
	rest, ok := strings.CutPrefix(id, "berth_")
	if !ok {
		return ""
	}
	agent, _, _ := strings.Cut(rest, "_")
	return agent
}

// checkOwners refuses a route change that would serve a host another
// agent's route already serves: a host belongs to the agent that routed
// it first, until that agent releases the route (its workload moved).
func checkOwners(body []byte, owners map[string]string, released map[string]bool) error {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil // checkRoute answers for bodies that are not JSON
	}
	routes, ok := v.([]any)
	if !ok {
		routes = []any{v}
	}
	for _, rt := range routes {
		id, _ := dig(rt)["@id"].(string)
		for _, h := range routeHosts(rt) {
			owner, taken := owners[h]
			if taken && owner != id && routeAgent(owner) != "" && routeAgent(owner) != routeAgent(id) && !released[owner] {
				return &HostTakenError{Host: h, Owner: owner}
			}
		}
	}
	return nil
}

// HostTakenError: another agent's route serves the host.
type HostTakenError struct{ Host, Owner string }

func (e *HostTakenError) Error() string {
	return fmt.Sprintf("the host %s is served by %s (agent %s): a host belongs to the agent that routed it first", e.Host, e.Owner, routeAgent(e.Owner))
}
