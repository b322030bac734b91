package router

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRouteChangeLetsThroughRoutesOnly(t *testing.T) {
	for path, want := range map[string]bool{
		"/id/berth_host-a_shop_web":                    true,
		"/id/berth-shop_web":                           true, // a legacy id, removed by newer agents
		"/id/" + ProxyID:                               false,
		"/id/" + ProxyID + "/listen":                   false,
		"/id/":                                         false,
		"/config/apps/http/servers/berth/routes":       true,
		"/config/apps/http/servers/berth/routes/0":     true,
		"/config/apps/http/servers/berth/listen":       false,
		"/config/apps/http/servers/berth":              false,
		"/config/apps/http/servers/berth/routes_extra": false,
		"/config/apps/tls":                             false,
		"/config/":                                     false,
		"/load":                                        false,
		"/stop":                                        false,
	} {
		assert.Equal(t, want, routeChange(path), path)
	}
}

func TestLocalHostsStayOnHTTP(t *testing.T) {
	rs := []any{
		routeConfig(Route{ID: "a/w", Hosts: []string{"shop.example.com", "app.localhost"}, Upstream: "127.0.0.1:1"}, ConfigOptions{}),
		map[string]any{"match": []any{map[string]any{"host": []any{"printer.local", "10.0.0.7", "api.example.org"}}}},
		map[string]any{"match": []any{map[string]any{"host": []any{"localhost", "db.internal", "nas.home.arpa"}}}},
		notFound(),
	}
	assert.Equal(t, []string{"10.0.0.7", "app.localhost", "db.internal", "localhost", "nas.home.arpa", "printer.local"}, localHosts(rs))
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:2019": true, "localhost:2019": true, "[::1]:2019": true,
		"evil.example:2019": false, "127.0.0.1:2020": false, "": false,
	} {
		assert.Equal(t, want, loopbackHost(host, "127.0.0.1:2019"), host)
	}
}

// TestRouteBodiesReachOnlyLoopbackPorts: anyone on loopback can call the
// admin API of `berth proxy`; a route that would reach the Docker socket,
// another host, or serve files is refused.
func TestRouteBodiesReachOnlyLoopbackPorts(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"an agent's route", `{"@id":"berth_a_shop_web","match":[{"host":["shop.test"]}],"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:32768"}]}]}`, true},
		{"dynamic upstreams", `{"handle":[{"handler":"reverse_proxy","dynamic_upstreams":{"source":"berth","route":"shop/web"}}]}`, true},
		{"an upstream patch", `[{"dial":"127.0.0.1:40000"}]`, true},
		{"ipv6 loopback", `[{"dial":"[::1]:40000"}]`, true},
		{"a delete", ``, true},
		{"the docker socket", `[{"dial":"unix//var/run/docker.sock"}]`, false},
		{"another host", `[{"dial":"10.0.0.5:2375"}]`, false},
		{"a name", `[{"dial":"localhost.evil.example:80"}]`, false},
		{"a port range", `[{"dial":"127.0.0.1:1-65535"}]`, false},
		{"a placeholder", `[{"dial":"127.0.0.1:{http.request.uri.query.p}"}]`, false},
		{"files of the host", `{"handle":[{"handler":"file_server","root":"/"}]}`, false},
		{"a transport", `{"handle":[{"handler":"reverse_proxy","transport":{"protocol":"fastcgi"},"upstreams":[{"dial":"127.0.0.1:9000"}]}]}`, false},
		{"nested in a subroute", `{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"unix//run/docker.sock"}]}]}]}]}`, false},
		{"another upstream source", `{"handle":[{"handler":"reverse_proxy","dynamic_upstreams":{"source":"srv","name":"x"}}]}`, false},
	} {
		err := checkRoute([]byte(tc.body))
		if tc.ok {
			assert.NoError(t, err, tc.name)
		} else {
			assert.Error(t, err, tc.name)
		}
	}
}

// TestAHostBelongsToItsFirstAgent: a second agent on the same proxy
// cannot take a host another agent routes (409 naming the owner); the
// owner can change its own route.
func TestAHostBelongsToItsFirstAgent(t *testing.T) {
	cfg := map[string]any{"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"berth-proxy": map[string]any{
		"routes": []any{map[string]any{"@id": "berth_host-a_shop_web", "match": []any{map[string]any{"host": []any{"shop.test"}}}}},
	}}}}}
	owners := hostOwners(cfg)
	take := `{"@id":"berth_host-b_evil_web","match":[{"host":["SHOP.test"]}],"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:1"}]}]}`
	err := checkOwners([]byte(take), owners, nil)
	var taken *HostTakenError
	if assert.ErrorAs(t, err, &taken) {
		assert.Equal(t, "berth_host-a_shop_web", taken.Owner)
		assert.Contains(t, err.Error(), "agent host-a")
	}
	mine := `{"@id":"berth_host-a_shop_web","match":[{"host":["shop.test"]}],"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:2"}]}]}`
	assert.NoError(t, checkOwners([]byte(mine), owners, nil), "the owner moves its own route")
	other := `{"@id":"berth_host-a_shop_api","match":[{"host":["api.test"]}]}`
	assert.NoError(t, checkOwners([]byte(other), owners, nil), "a free host")
	assert.NoError(t, checkOwners([]byte(`[{"dial":"127.0.0.1:3"}]`), owners, nil), "an upstream patch names no host")
	// Once the owner released its route (the workload moved), another
	// agent may route the host.
	assert.NoError(t, checkOwners([]byte(take), owners, map[string]bool{"berth_host-a_shop_web": true}), "a released host")
}
