package router_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/router"
	"github.com/berthops/berth/testkit/caddytest"
	"github.com/berthops/berth/testkit/loopback"
)

// serves waits until the proxy answers host with want: for a moment after a
// change, a connection may still reach the config Caddy is stopping (no
// route there: Caddy's empty 200). It fails the test after 5 s.
func serves(t *testing.T, proxy, host, want string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	var body string
	var err error
	for range 100 {
		if body, err = loopback.Get(c, proxy, host); err == nil && body == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: want %q, got %q (%v)", host, want, body, err)
}

func TestAdminDriverWithExternalCaddy(t *testing.T) {
	admin := caddytest.Start(t, nil)
	proxy := loopback.FreeAddr(t)
	drv, err := router.NewAdmin(admin, router.ConfigOptions{HTTP: proxy, Agent: "host-a"})
	require.NoError(t, err)
	require.NoError(t, drv.Ping(context.Background()))
	r, err := router.New(drv, filepath.Join(t.TempDir(), "routes.json"))
	require.NoError(t, err)
	blue, green := upstream(t, "blue"), upstream(t, "green")
	for _, up := range []string{blue, green} {
		require.NoError(t, r.Upsert(context.Background(), router.Route{ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: up}))
		serves(t, proxy, "shop.test", map[string]string{blue: "blue", green: "green"}[up])
	}
	require.NoError(t, drv.Ping(context.Background()), "the admin API survives every change")
	ours, err := drv.StartedByBerth(context.Background())
	require.NoError(t, err)
	assert.False(t, ours, "a Caddy the agent only added routes to is not a berth proxy")
}

// TestAdminTouchesOnlyItsRoutes: an operator's Caddy serves its own site
// and another agent's route on the same port. The agent adds, swaps and
// removes its route and leaves everything else as it was.
func TestAdminTouchesOnlyItsRoutes(t *testing.T) {
	proxy := loopback.FreeAddr(t)
	site := upstream(t, "operator site")
	admin := caddytest.Start(t, func(admin string) map[string]any {
		route := func(id, host, dial string) map[string]any {
			return map[string]any{"@id": id, "match": []any{map[string]any{"host": []string{host}}},
				"handle": []any{map[string]any{"handler": "reverse_proxy", "upstreams": []any{map[string]any{"dial": dial}}}}}
		}
		return map[string]any{
			"admin":   map[string]any{"listen": admin},
			"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "WARN"}}},
			"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"srv0": map[string]any{
				"listen":          []string{proxy},
				"automatic_https": map[string]any{"disable": true},
				"routes":          []any{route("operator-site", "site.test", site), route("berth_host-b_shop_web", "b.test", site)},
			}}}},
		}
	})
	before := caddytest.Config(t, admin)
	drv, err := router.NewAdmin(admin, router.ConfigOptions{HTTP: proxy, Agent: "host"})
	require.NoError(t, err)
	r, err := router.New(drv, filepath.Join(t.TempDir(), "routes.json"))
	require.NoError(t, err)
	ctx := context.Background()
	blue, green := upstream(t, "blue"), upstream(t, "green")

	require.NoError(t, r.Upsert(ctx, router.Route{ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: blue}))
	serves(t, proxy, "shop.test", "blue")
	require.NoError(t, r.Upsert(ctx, router.Route{ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: green}))
	serves(t, proxy, "shop.test", "green")
	serves(t, proxy, "site.test", "operator site")
	serves(t, proxy, "b.test", "operator site")

	cfg := caddytest.Config(t, admin)
	assert.Contains(t, cfg, `"@id":"berth_host_shop_web"`)

	// A restart of the agent with an empty table removes only its route.
	again, err := router.New(drv, filepath.Join(t.TempDir(), "empty.json"))
	require.NoError(t, err)
	require.NoError(t, again.Apply(ctx))
	assert.JSONEq(t, before, caddytest.Config(t, admin), "the operator's config is exactly what it was")
}

// TestAdminAddsItsOwnServer: a Caddy with no HTTP app gets a server of
// the agent's own, with the 404 for unknown hosts.
func TestAdminAddsItsOwnServer(t *testing.T) {
	admin := caddytest.Start(t, nil)
	proxy := loopback.FreeAddr(t)
	drv, err := router.NewAdmin(admin, router.ConfigOptions{HTTP: proxy, Agent: "host-a"})
	require.NoError(t, err)
	require.NoError(t, drv.Load(context.Background(), []router.Route{{ID: "a/w", Hosts: []string{"w.test"}, Upstream: upstream(t, "w")}}))
	serves(t, proxy, "w.test", "w")
	req, err := http.NewRequest(http.MethodGet, "http://"+proxy+"/", nil)
	require.NoError(t, err)
	req.Host = "nothing.test"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)
	assert.Contains(t, caddytest.Config(t, admin), `"berth_host-a"`)
}
