package router

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
)

// handlers are the Caddy handlers a route may use through `berth
// proxy`'s admin API: the ones Berth's own routes are made of.
var handlers = map[string]bool{"reverse_proxy": true, "static_response": true, "subroute": true}

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
				return fmt.Errorf("the handler %q is not one a route may use (reverse_proxy, static_response, subroute)", name)
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
