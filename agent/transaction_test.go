package agent_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
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

// clock is a test clock the agent reads; tests move it to skip backoffs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recreateWeb is a routed recreate workload; extra lines go into env.
func recreateWeb(image, host, msg string, extra ...string) string {
	return agenttest.Routed(image, host, msg, "recreate", extra...)
}

// requireServes checks that the proxy answers for host with want, and
// that the workload has exactly one container, named by its row.
func requireServes(t *testing.T, h *agenttest.Harness, st *store.Store, proxy, host, want string) store.Runtime {
	t.Helper()
	body, err := loopback.Get(&http.Client{Timeout: 5 * time.Second}, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, want)
	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1, "exactly one container")
	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Equal(t, cs[0].ID, row.ContainerID, "the row names the container that serves")
	assert.True(t, cs[0].Running())
	return row
}

// TestRecreateFailureRestoresTheOldVersion: whatever fails after the old
// container was stopped (the new one does not start, fails the gate, the
// route cannot be set), the old version serves again with exactly one
// container, and the workload says degraded, not running.
func TestRecreateFailureRestoresTheOldVersion(t *testing.T) {
	busy, err := net.Listen("tcp", "0.0.0.0:0") // a host port someone else holds
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	busyPort := busy.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name, stage string
		next        func(h *agenttest.Harness, host string) string
		router      func(h *agenttest.Harness) (*router.Router, string)
	}{
		{name: "never ready", stage: "readiness gate", next: func(h *agenttest.Harness, host string) string {
			return recreateWeb(h.Image, host, "v2", `NEVER_READY: "1"`)
		}},
		{name: "exits at once", stage: "readiness gate", next: func(h *agenttest.Harness, host string) string {
			return recreateWeb(h.Image, host, "v2", "EXIT_AFTER: 10ms")
		}},
		{name: "cannot start", stage: "starting the new container", next: func(h *agenttest.Harness, host string) string {
			return recreateWeb(h.Image, host, "v2") + fmt.Sprintf("host_port: %d\n", busyPort)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			rt, proxy := h.EmbeddedRouter()
			host := h.App + ".test"
			h.Workload("web", recreateWeb(h.Image, host, "v1"))
			a, st := h.Start("v1", agent.Options{Router: rt})
			before := requireServes(t, h, st, proxy, host, "v1")

			h.Workload("web", tc.next(h, host))
			h.Repo.Push("a broken v2")
			res, err := a.Tick(context.Background())
			require.ErrorIs(t, err, agent.ErrDeployFailed, "commit %s, no-op %v, deployed %v, timings %+v", res.Commit, res.NoOp, res.Deployed, res.Timings)
			assert.Equal(t, []string{h.ID("web")}, res.Failed)
			row := requireServes(t, h, st, proxy, host, "v1")
			assert.Equal(t, before.ContainerID, row.ContainerID, "the old container itself serves again")
			assert.Equal(t, store.DeployRolledBack, row.LastDeploy)
			assert.Equal(t, before.Commit, row.Commit, "the row says which commit serves")
			ev := agenttest.Events(t, st, h.ID("web"))
			last := ev[len(ev)-1]
			assert.Equal(t, string(agent.KindDeployRolledBack), last.Kind)
			assert.Contains(t, last.Message, tc.stage)
			assert.Contains(t, last.Message, "rolled back")
			views := agent.WorkloadViews([]store.Runtime{row})
			assert.Equal(t, agent.StateDegraded, views[0].State)
			assert.Equal(t, fmt.Sprintf("degraded: %.7s failed, %.7s serving", row.FailedCommit, before.Commit), views[0].Summary)
		})
	}
}

// TestRecreateRouteFailureRollsBack: a proxy that does not answer fails
// the route swap after the old container was stopped; it is started
// again, so it serves as soon as the proxy does.
func TestRecreateRouteFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	drv, err := router.NewAdmin("http://"+loopback.FreeAddr(t), router.ConfigOptions{HTTP: loopback.FreeAddr(t)})
	require.NoError(t, err)
	rt, err := router.New(drv, filepath.Join(h.StateDir, "routes.json"))
	require.NoError(t, err)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	a, st := h.Start("v1 without a route", agent.Options{Router: rt})
	old := agenttest.Rows(t, st)[h.ID("web")]

	h.Workload("web", recreateWeb(h.Image, h.App+".test", "v2"))
	h.Repo.Push("v2 with a route, the proxy is down")
	_, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, old.ContainerID, cs[0].ID)
	assert.True(t, cs[0].Running(), "the old version runs again")
	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Equal(t, store.DeployRolledBack, row.LastDeploy)
	assert.Contains(t, agenttest.Get(t, row.Upstream), "v1", "the row names its new port")
}

// TestFailingDeployBacksOff: a failed desired state is retried after the
// backoff, not every tick; the repeated failure is one event with a count
// and one status commit; a new commit is tried at once.
func TestFailingDeployBacksOff(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	clk := newClock()
	h.Workload("web", agenttest.Routed(h.Image, host, "v1", "blue-green"))
	a, st := h.Start("v1", agent.Options{Router: rt, Now: clk.Now})
	h.Workload("web", agenttest.Routed(h.Image, host, "v2", "blue-green", `NEVER_READY: "1"`))
	h.Repo.Push("v2 never gets ready")
	_, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)

	clk.Add(30 * time.Second)
	res, err := a.Tick(context.Background())
	require.NoError(t, err, "within the backoff the tick is idle")
	assert.True(t, res.NoOp)
	requireServes(t, h, st, proxy, host, "v1")

	clk.Add(31 * time.Second)
	res, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed, "after 1m it is tried again")
	assert.Equal(t, []string{h.ID("web")}, res.Failed)
	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Equal(t, 2, row.Failures)
	assert.WithinDuration(t, clk.Now().Add(2*time.Minute), row.RetryAt, time.Second, "the next wait doubles")
	evs := agenttest.Events(t, st, h.ID("web"))
	var failures []store.Event
	for _, e := range evs {
		if e.Kind == string(agent.KindDeployFailed) {
			failures = append(failures, e)
		}
	}
	require.Len(t, failures, 1, "one event for the repeated failure")
	assert.Equal(t, 2, failures[0].Count)
	assert.Equal(t, 1, strings.Count(strings.Join(kindStrings(evs), " "), string(agent.KindDeployStarted)+" "+string(agent.KindDeployFailed)),
		"the retry writes no second deploy.started")

	h.Workload("web", agenttest.Routed(h.Image, host, "v3", "blue-green"))
	h.Repo.Push("v3 fixes it")
	res, err = a.Tick(context.Background())
	require.NoError(t, err, "a new commit is tried at once, backoff or not")
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	requireServes(t, h, st, proxy, host, "v3")
	evs = agenttest.Events(t, st, h.ID("web"))
	assert.Equal(t, string(agent.KindDeployRecovered), evs[len(evs)-1].Kind)
	assert.Empty(t, agenttest.Rows(t, st)[h.ID("web")].FailedHash)
}

func kindStrings(evs []store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// TestNewVersionThatCannotStart: a new image whose entrypoint does not
// exist fails at `docker start`. Blue-green never touched blue; recreate
// starts the old container again. Either way the old version serves with
// exactly one container.
func TestNewVersionThatCannotStart(t *testing.T) {
	for _, strategy := range []string{"blue-green", "recreate"} {
		t.Run(strategy, func(t *testing.T) {
			h := newHarness(t)
			h.CleanBuilt()
			rt, proxy := h.EmbeddedRouter()
			host := h.App + ".test"
			h.Workload("web", agenttest.Routed(h.Image, host, "v1", strategy))
			a, st := h.Start("v1", agent.Options{Router: rt})
			before := requireServes(t, h, st, proxy, host, "v1")

			h.Repo.Write("apps/"+h.App+"/web/Dockerfile", fmt.Sprintf("FROM %s\nENTRYPOINT [\"/no-such-program\"]\n", h.Image))
			h.Workload("web", fmt.Sprintf("source:\n  type: dockerfile\n  context: web\n  deploy_strategy: %s\nport: 8080\nroute:\n  hosts: [%s]\nhealthcheck:\n  path: /healthz\n  timeout: 3s\n", strategy, host))
			h.Repo.Push("v2 cannot start")
			_, err := a.Tick(context.Background())
			require.ErrorIs(t, err, agent.ErrDeployFailed)
			row := requireServes(t, h, st, proxy, host, "v1")
			assert.Equal(t, before.ContainerID, row.ContainerID)
			assert.Contains(t, row.Message, "starting the new container")
			assert.Equal(t, agent.StateDegraded, agent.WorkloadViews([]store.Runtime{row})[0].State)
		})
	}
}

// A recreate whose new version fails its readiness gate costs one short
// outage: the old container, started again, is routed as soon as it
// answers its own release's healthcheck (v1 checks "/"; v2 checks a path
// v1 does not pass either), not after waiting out the new check again;
// and the same version is not tried again on a schedule — five minutes of
// ticks later the old container still serves, untouched — until the
// operator asks (`berth retry`).
func TestFailedRecreateCostsSecondsOnce(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	now := time.Now()
	clock := func() time.Time { return now }
	v1 := strings.Replace(recreateWeb(h.Image, host, "v1", `NEVER_READY: "1"`), "path: /healthz", "path: /", 1)
	h.Workload("web", v1)
	a, st := h.Start("v1", agent.Options{Router: rt, Now: clock})
	before := requireServes(t, h, st, proxy, host, "v1")

	const gate = 4 * time.Second
	v2 := strings.Replace(recreateWeb(h.Image, host, "v2", `NEVER_READY: "1"`), "timeout: 3s", "timeout: 4s", 1)
	require.Contains(t, v2, "timeout: 4s")
	h.Workload("web", v2)
	h.Repo.Push("v2 never passes /healthz")
	l := agenttest.StartLoad(proxy, host)
	time.Sleep(300 * time.Millisecond)
	_, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	time.Sleep(300 * time.Millisecond)
	l.Finish()
	failed, gap, _ := l.Stats()
	t.Logf("failed recreate under load: %d requests failed, longest gap %s (the new version's gate: %s)", failed, gap, gate)
	// The bound; which check the revert waits on is pinned without
	// a clock by engine's TestRevertAsksTheServingReleasesCheck.
	assert.Less(t, gap, 10*time.Second)
	row := requireServes(t, h, st, proxy, host, "v1")
	assert.Equal(t, before.ContainerID, row.ContainerID)
	ev := agenttest.Events(t, st, h.ID("web"))
	assert.Contains(t, ev[len(ev)-1].Message, "not retried automatically")

	// Five minutes of ticks: no second outage.
	l = agenttest.StartLoad(proxy, host)
	for range 10 {
		now = now.Add(30 * time.Second)
		res, err := a.Tick(context.Background())
		require.NoError(t, err)
		assert.Empty(t, res.Deployed)
		assert.Empty(t, res.Failed)
	}
	l.Finish()
	failed, _, _ = l.Stats()
	assert.Zero(t, failed, "nothing stopped the site again")
	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, before.ContainerID, cs[0].ID)

	// The operator asks: the next tick tries v2 again (and reverts again).
	require.NoError(t, a.Retry(context.Background(), h.ID("web")))
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("web")}, res.Failed)
	requireServes(t, h, st, proxy, host, "v1")
}
