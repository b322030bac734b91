package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/loopback"
)

func TestBlueGreenRedeploysDropNoRequest(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	h.Workload("web", agenttest.Routed(h.Image, host, "v0", ""))
	h.Repo.Push("v0")
	a, st := h.Agent(agent.Options{Router: rt})
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{h.ID("web")}, res.Deployed)
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	require.Contains(t, body, "v0")

	l := agenttest.StartLoad(proxy, host)
	for i := 1; i <= 3; i++ {
		h.Workload("web", agenttest.Routed(h.Image, host, fmt.Sprintf("v%d", i), ""))
		h.Repo.Push(fmt.Sprintf("v%d", i))
		res, err := a.Tick(context.Background())
		require.NoError(t, err)
		require.Equal(t, []string{h.ID("web")}, res.Deployed)
		assert.Equal(t, "blue-green", string(res.Timings[h.ID("web")].Strategy))
	}
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	assert.Zero(t, l.Failed.Load(), "failed requests during 3 blue-green redeploys (first: %v)", l.FirstError())
	assert.Greater(t, l.OK.Load(), int64(100))

	body, err = loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "v3")
	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1, "blue was reaped")
	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Equal(t, cs[0].ID, row.ContainerID)
	assert.True(t, strings.HasPrefix(cs[0].Name, "berth-"+h.App+"_web."), "green has a unique name: %s", cs[0].Name)
	r, _ := rt.Get(h.ID("web"))
	assert.Equal(t, row.Upstream, r.Upstream)
	ev := agenttest.Events(t, st, h.ID("web"))
	last := ev[len(ev)-1]
	assert.Equal(t, string(agent.KindDeploySucceeded), last.Kind)
	assert.Equal(t, "default", last.Metadata["reason"])
	assert.Contains(t, last.Message, "blue-green (default)")
}

func TestNeverReadyGreenLeavesBlueServing(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	h.Workload("web", agenttest.Routed(h.Image, host, "blue", "blue-green"))
	a, st := h.Start("blue", agent.Options{Router: rt})
	blue := h.Containers()[h.ID("web")][0]
	before, _ := rt.Get(h.ID("web"))

	l := agenttest.StartLoad(proxy, host)
	h.Workload("web", agenttest.Routed(h.Image, host, "green", "blue-green", "NEVER_READY: \"1\""))
	h.Repo.Push("a green that never gets ready")
	res, err := a.Tick(context.Background())
	l.Finish()
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("web")}, res.Failed)
	assert.Zero(t, l.Failed.Load(), "blue kept serving (first error: %v)", l.FirstError())

	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1, "green was removed")
	assert.Equal(t, blue.ID, cs[0].ID)
	after, _ := rt.Get(h.ID("web"))
	assert.Equal(t, before, after, "the route was not touched")
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "blue")
	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Equal(t, blue.ID, row.ContainerID)
	assert.Equal(t, store.DeployFailed, row.LastDeploy)
	ev := agenttest.Events(t, st, h.ID("web"))
	last := ev[len(ev)-1]
	assert.Equal(t, string(agent.KindDeployFailed), last.Kind)
	assert.Contains(t, last.Message, "still serving")
	assert.Contains(t, last.Message, "readiness gate")
}

func TestRecreateThroughTheRouter(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	h.Workload("web", agenttest.Routed(h.Image, host, "one", "recreate"))
	a, st := h.Start("one", agent.Options{Router: rt})
	h.Workload("web", agenttest.Routed(h.Image, host, "two", "recreate"))
	h.Repo.Push("two")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "recreate", string(res.Timings[h.ID("web")].Strategy))
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "two")
	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, "berth-"+h.App+"_web", cs[0].Name)
	assert.Equal(t, agenttest.Rows(t, st)[h.ID("web")].ContainerID, cs[0].ID)
}

func TestProxyDownFailsDeployBlueUntouched(t *testing.T) {
	h := newHarness(t)
	host := h.App + ".test"
	// A Caddy admin API that does not answer.
	drv, err := router.NewAdmin("http://"+loopback.FreeAddr(t), router.ConfigOptions{HTTP: loopback.FreeAddr(t)})
	require.NoError(t, err)
	rt, err := router.New(drv, filepath.Join(h.StateDir, "routes.json"))
	require.NoError(t, err)
	h.Workload("web", agenttest.Web(h.Image, "blue"))
	a, st := h.Start("no route yet", agent.Options{Router: rt})
	blue := h.Containers()[h.ID("web")][0]

	h.Workload("web", agenttest.Routed(h.Image, host, "green", "blue-green"))
	h.Repo.Push("now routed")
	_, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1, "green was removed")
	assert.Equal(t, blue.ID, cs[0].ID)
	assert.True(t, cs[0].Running())
	ev := agenttest.Events(t, st, h.ID("web"))
	assert.Contains(t, ev[len(ev)-1].Message, "updating the route")
}
