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
