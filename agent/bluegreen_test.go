package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/internal/loopback"
	"github.com/berthops/berth/sources/router"
)

// embeddedRouter starts the in-process Caddy on a free port.
func (h *harness) embeddedRouter() (*router.Router, string) {
	h.t.Helper()
	addr := loopback.FreeAddr(h.t)
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: addr, StorageDir: filepath.Join(h.stateDir, "caddy")})
	h.t.Cleanup(func() { _ = drv.Stop() })
	r, err := router.New(drv, filepath.Join(h.stateDir, "routes.json"))
	require.NoError(h.t, err)
	require.NoError(h.t, r.Apply(context.Background()))
	return r, addr
}

func routed(image, host, msg, strategy string, extraEnv ...string) string {
	env := fmt.Sprintf("  MESSAGE: %q\n  READY_DELAY: 300ms\n", msg)
	for _, e := range extraEnv {
		env += "  " + e + "\n"
	}
	return fmt.Sprintf(`source:
  type: image
  image: %s
  deploy_strategy: %q
env:
%sport: 8080
route:
  hosts: [%s]
healthcheck:
  path: /healthz
  timeout: 3s
`, image, strategy, env, host)
}

// load runs 4 keep-alive clients through the proxy until stop is closed
// (bounded by count) and counts what failed.
type load struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(proxy, host string) *load {
	l := &load{stop: make(chan struct{})}
	for range 4 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for range 500000 {
				select {
				case <-l.stop:
					return
				default:
				}
				if _, err := loopback.Get(c, proxy, host); err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func TestBlueGreenRedeploysDropNoRequest(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.embeddedRouter()
	host := h.app + ".test"
	h.workload("web", routed(h.image, host, "v0", ""))
	h.repo.Push("v0")
	a, st := h.agent(agent.Options{Router: rt})
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{h.id("web")}, res.Deployed)
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	require.Contains(t, body, "v0")

	l := startLoad(proxy, host)
	for i := 1; i <= 3; i++ {
		h.workload("web", routed(h.image, host, fmt.Sprintf("v%d", i), ""))
		h.repo.Push(fmt.Sprintf("v%d", i))
		res, err := a.Tick(context.Background())
		require.NoError(t, err)
		require.Equal(t, []string{h.id("web")}, res.Deployed)
		assert.Equal(t, "blue-green", string(res.Timings[h.id("web")].Strategy))
	}
	time.Sleep(200 * time.Millisecond)
	l.finish()
	assert.Zero(t, l.failed.Load(), "failed requests during 3 blue-green redeploys (first: %v)", l.firstErr.Load())
	assert.Greater(t, l.ok.Load(), int64(100))

	body, err = loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "v3")
	cs := h.containers()[h.id("web")]
	require.Len(t, cs, 1, "blue was reaped")
	row := rowsByID(t, st)[h.id("web")]
	assert.Equal(t, cs[0].ID, row.ContainerID)
	assert.True(t, strings.HasPrefix(cs[0].Name, "berth-"+h.app+"-web-"), "green has a unique name: %s", cs[0].Name)
	r, _ := rt.Get(h.id("web"))
	assert.Equal(t, row.Upstream, r.Upstream)
	ev := events(t, st, h.id("web"))
	last := ev[len(ev)-1]
	assert.Equal(t, agent.KindDeploySucceeded, last.Kind)
	assert.Equal(t, "default", last.Metadata["reason"])
	assert.Contains(t, last.Message, "blue-green (default)")
}

func TestNeverReadyGreenLeavesBlueServing(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.embeddedRouter()
	host := h.app + ".test"
	h.workload("web", routed(h.image, host, "blue", "blue-green"))
	h.repo.Push("blue")
	a, st := h.agent(agent.Options{Router: rt})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	blue := h.containers()[h.id("web")][0]
	before, _ := rt.Get(h.id("web"))

	l := startLoad(proxy, host)
	h.workload("web", routed(h.image, host, "green", "blue-green", "NEVER_READY: \"1\""))
	h.repo.Push("a green that never gets ready")
	res, err := a.Tick(context.Background())
	l.finish()
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.id("web")}, res.Failed)
	assert.Zero(t, l.failed.Load(), "blue kept serving (first error: %v)", l.firstErr.Load())

	cs := h.containers()[h.id("web")]
	require.Len(t, cs, 1, "green was removed")
	assert.Equal(t, blue.ID, cs[0].ID)
	after, _ := rt.Get(h.id("web"))
	assert.Equal(t, before, after, "the route was not touched")
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "blue")
	row := rowsByID(t, st)[h.id("web")]
	assert.Equal(t, blue.ID, row.ContainerID)
	assert.Equal(t, store.DeployFailed, row.LastDeploy)
	ev := events(t, st, h.id("web"))
	last := ev[len(ev)-1]
	assert.Equal(t, agent.KindDeployFailed, last.Kind)
	assert.Contains(t, last.Message, "still serving")
	assert.Contains(t, last.Message, "readiness gate")
}

func TestRecreateThroughTheRouter(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.embeddedRouter()
	host := h.app + ".test"
	h.workload("web", routed(h.image, host, "one", "recreate"))
	h.repo.Push("one")
	a, st := h.agent(agent.Options{Router: rt})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	h.workload("web", routed(h.image, host, "two", "recreate"))
	h.repo.Push("two")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "recreate", string(res.Timings[h.id("web")].Strategy))
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "two")
	cs := h.containers()[h.id("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, "berth-"+h.app+"-web", cs[0].Name)
	assert.Equal(t, rowsByID(t, st)[h.id("web")].ContainerID, cs[0].ID)
}

func TestProxyDownFailsDeployBlueUntouched(t *testing.T) {
	h := newHarness(t)
	host := h.app + ".test"
	// A Caddy admin API that does not answer.
	drv, err := router.NewAdmin("http://"+loopback.FreeAddr(t), router.ConfigOptions{HTTP: loopback.FreeAddr(t)})
	require.NoError(t, err)
	rt, err := router.New(drv, filepath.Join(h.stateDir, "routes.json"))
	require.NoError(t, err)
	h.workload("web", web(h.image, "blue"))
	h.repo.Push("no route yet")
	a, st := h.agent(agent.Options{Router: rt})
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	blue := h.containers()[h.id("web")][0]

	h.workload("web", routed(h.image, host, "green", "blue-green"))
	h.repo.Push("now routed")
	_, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	cs := h.containers()[h.id("web")]
	require.Len(t, cs, 1, "green was removed")
	assert.Equal(t, blue.ID, cs[0].ID)
	assert.True(t, cs[0].Running())
	ev := events(t, st, h.id("web"))
	assert.Contains(t, ev[len(ev)-1].Message, "updating the route")
}
