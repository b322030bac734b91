package router_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/router"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/loopback"
)

func upstream(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestEmbeddedSwapsUnderLoadWithoutDrops(t *testing.T) {
	blue, green := upstream(t, "blue"), upstream(t, "green")
	proxy := loopback.FreeAddr(t)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: proxy, StorageDir: t.TempDir()})
	t.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, filepath.Join(t.TempDir(), "routes.json"))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, r.Upsert(ctx, router.Route{ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: blue}))

	l := agenttest.StartLoad(proxy, "shop.test")
	for i := range 10 {
		time.Sleep(100 * time.Millisecond)
		up := green
		if i%2 == 1 {
			up = blue
		}
		require.NoError(t, r.Upsert(ctx, router.Route{ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: up}))
	}
	time.Sleep(100 * time.Millisecond)
	l.Finish()
	assert.Zero(t, l.Failed.Load(), "requests failed during 10 swaps (of %d; first: %v)", l.OK.Load()+l.Failed.Load(), l.FirstError())
	assert.Greater(t, l.OK.Load(), int64(100))
	assert.True(t, l.Saw("blue") && l.Saw("green"))

	// An unknown host is not routed.
	_, err = loopback.Get(&http.Client{Timeout: 5 * time.Second}, proxy, "other.test")
	assert.Error(t, err)
}

func TestTablePersistsAndRestores(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routes.json")
	proxy := loopback.FreeAddr(t)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: proxy, StorageDir: dir})
	t.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, path)
	require.NoError(t, err)
	up := upstream(t, "site")
	require.NoError(t, r.Upsert(context.Background(), router.Route{ID: "a/site", Hosts: []string{"site.test"}, Upstream: up}))
	require.NoError(t, drv.Stop())

	// A new process restores the table and serves it again.
	r2, err := router.New(drv, path)
	require.NoError(t, err)
	rt, ok := r2.Get("a/site")
	require.True(t, ok)
	assert.Equal(t, up, rt.Upstream)
	require.NoError(t, r2.Apply(context.Background()))
	body, err := loopback.Get(&http.Client{Timeout: 5 * time.Second}, proxy, "site.test")
	require.NoError(t, err)
	assert.Equal(t, "site", body)

	require.NoError(t, r2.Remove(context.Background(), "a/site"))
	_, ok = r2.Get("a/site")
	assert.False(t, ok)
}

func TestProxyDownLeavesTableUnchanged(t *testing.T) {
	drv, err := router.NewAdmin("http://"+loopback.FreeAddr(t), router.ConfigOptions{HTTP: loopback.FreeAddr(t)})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "routes.json")
	r, err := router.New(drv, path)
	require.NoError(t, err)
	err = r.Upsert(context.Background(), router.Route{ID: "a/b", Hosts: []string{"b.test"}, Upstream: "127.0.0.1:1"})
	require.Error(t, err)
	_, ok := r.Get("a/b")
	assert.False(t, ok)
	restarted, err := router.New(drv, path)
	require.NoError(t, err)
	assert.Empty(t, restarted.Routes(), "a restart does not serve the route the proxy refused")
}

// TestStreamsSurviveReload: a long-lived SSE response through the embedded
// proxy keeps flowing while routes change: Caddy drains the old config
// gracefully and stream_close_delay keeps streams past the unload.
func TestStreamsSurviveReload(t *testing.T) {
	stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for i := range 100 { // bounded: 5 s
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			fl.Flush()
		}
	}))
	t.Cleanup(stream.Close)
	proxy := loopback.FreeAddr(t)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: proxy, StorageDir: t.TempDir()})
	t.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, filepath.Join(t.TempDir(), "routes.json"))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, r.Upsert(ctx, router.Route{ID: "a/stream", Hosts: []string{"stream.test"}, Upstream: strings.TrimPrefix(stream.URL, "http://")}))

	req, err := http.NewRequest(http.MethodGet, "http://"+proxy+"/", nil)
	require.NoError(t, err)
	req.Host = "stream.test"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 64)
	_, err = resp.Body.Read(buf)
	require.NoError(t, err)

	other := upstream(t, "other")
	for range 5 { // five reloads while the stream is open
		require.NoError(t, r.Upsert(ctx, router.Route{ID: "b/other", Hosts: []string{"other.test"}, Upstream: other}))
		require.NoError(t, r.Remove(ctx, "b/other"))
	}
	got := 0
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && got < 10 {
		n, err := resp.Body.Read(buf)
		require.NoError(t, err, "the stream was cut by a reload")
		if n > 0 {
			got++
		}
	}
	assert.GreaterOrEqual(t, got, 10)
}

// TestRefusedLoadKeepsTheSavedTable: the table is saved before the proxy
// loads it; when the proxy refuses (here: it does not answer), the saved
// file is what it was, so a restart restores what actually served.
func TestRefusedLoadKeepsTheSavedTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	proxy := loopback.FreeAddr(t)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: proxy, StorageDir: t.TempDir()})
	t.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, path)
	require.NoError(t, err)
	require.NoError(t, r.Upsert(context.Background(), router.Route{ID: "a/w", Hosts: []string{"a.test"}, Upstream: "127.0.0.1:1"}))
	saved, err := os.ReadFile(path)
	require.NoError(t, err)

	down, err := router.NewAdmin("http://"+loopback.FreeAddr(t), router.ConfigOptions{HTTP: loopback.FreeAddr(t)})
	require.NoError(t, err)
	r2, err := router.New(down, path)
	require.NoError(t, err)
	err = r2.Upsert(context.Background(), router.Route{ID: "a/w", Hosts: []string{"a.test"}, Upstream: "127.0.0.1:2"})
	require.Error(t, err)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, string(saved), string(after), "the file is restored")
	rt, _ := r2.Get("a/w")
	assert.Equal(t, "127.0.0.1:1", rt.Upstream, "the table in memory did not move either")
}

// A balanced route (a Swarm service's tasks) spreads requests over its
// addresses, and a request whose task refuses the connection (one that
// stopped mid-rollout) is answered by another: none fails.
func TestBalancedRouteSpreadsAndRetriesARefusedTask(t *testing.T) {
	proxy := loopback.FreeAddr(t)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: proxy, StorageDir: t.TempDir()})
	t.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, filepath.Join(t.TempDir(), "routes.json"))
	require.NoError(t, err)
	one, two, gone := upstream(t, "one"), upstream(t, "two"), loopback.FreeAddr(t)
	route := router.Route{ID: "a/web", Hosts: []string{"web.test"}, Upstream: strings.Join([]string{one, two, gone}, ","), Balanced: true}
	require.NoError(t, r.Upsert(context.Background(), route))
	seen := map[string]int{}
	c := &http.Client{Timeout: 10 * time.Second}
	for range 30 {
		body, err := loopback.Get(c, proxy, "web.test")
		require.NoError(t, err, "a refused connection is retried on another task")
		seen[body]++
	}
	assert.Positive(t, seen["one"])
	assert.Positive(t, seen["two"])
	got, _ := r.Get("a/web")
	assert.Equal(t, []string{one, two, gone}, got.Addrs())
}

// Adding or removing a route loads a new Caddy config. The listeners stay
// the same sockets across every load, and a connection the old config
// accepted but did not answer is answered by the new one: clients on
// other hosts see no failure, also on fresh connections.
func TestRouteChangesDropNoRequestOfOtherHosts(t *testing.T) {
	shop, other := upstream(t, "shop"), upstream(t, "other")
	proxy := loopback.FreeAddr(t)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: proxy, StorageDir: t.TempDir()})
	t.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, filepath.Join(t.TempDir(), "routes.json"))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, r.Upsert(ctx, router.Route{ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: shop}))

	l := agenttest.StartLoad(proxy, "shop.test")
	const loads = 150
	for i := range loads {
		if i%2 == 0 {
			require.NoError(t, r.Upsert(ctx, router.Route{ID: "other/web", Hosts: []string{"other.test"}, Upstream: other}))
		} else {
			require.NoError(t, r.Remove(ctx, "other/web"))
		}
	}
	l.Finish()
	t.Logf("%d config loads: %d requests answered, %d failed", loads, l.OK.Load(), l.Failed.Load())
	assert.Zero(t, l.Failed.Load(), "requests failed while routes of another host came and went (first: %v)", l.FirstError())
	assert.Greater(t, l.OK.Load(), int64(loads))
}
