package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/loopback"
)

// TestPlacementTwoAgentsOneRepo: two agents with labels on one config
// repo each deploy exactly the workloads placed on them; a placement change
// moves a workload: the new agent deploys it, the old one prunes it (the
// repo is not "empty" for an agent whose workloads all run elsewhere).
func TestPlacementTwoAgentsOneRepo(t *testing.T) {
	ha, hb := newHarness(t), newHarness(t)
	placed := func(msg, placement string) string { return agenttest.Web(ha.Image, msg) + placement }
	ha.Workload("web", placed("web", "placement:\n  labels: {role: web}\n"))
	ha.Workload("db", placed("db", "placement:\n  agents: ["+hb.Name+"]\n"))
	ha.Repo.Push("two workloads, two agents")

	a, _ := ha.Agent(agent.Options{Labels: map[string]string{"role": "web"}})
	repoB, err := gitops.NewRepo(ha.Repo.URL, "main", filepath.Join(hb.StateDir, "repo"), gitops.Credentials{})
	require.NoError(t, err)
	b := hb.AgentOn(repoB, agent.Options{Labels: map[string]string{"role": "db"}})
	ctx := context.Background()
	ids := func(h *agenttest.Harness) []string {
		return slices.Sorted(func(yield func(string) bool) {
			for id := range h.Containers() {
				if !yield(id) {
					return
				}
			}
		})
	}

	resA, err := a.Tick(ctx)
	require.NoError(t, err)
	resB, err := b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{ha.ID("web")}, resA.Deployed)
	assert.Equal(t, []string{ha.ID("db")}, resB.Deployed)
	assert.Equal(t, []string{ha.ID("web")}, ids(ha))
	assert.Equal(t, []string{ha.ID("db")}, ids(hb))

	// Move web to b by name: b deploys it, a prunes its copy.
	ha.Workload("web", placed("web", "placement:\n  agents: ["+hb.Name+"]\n"))
	ha.Repo.Push("web moves to b")
	resB, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{ha.ID("web")}, resB.Deployed)
	resA, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{ha.ID("web")}, resA.Pruned, "a runs none of the repo's workloads now, and prunes: the repo is not empty")
	assert.Empty(t, ids(ha))
	assert.Equal(t, []string{ha.ID("db"), ha.ID("web")}, ids(hb))
}

// TestMoveKeepsServingUntilTheNewAgentServes: agents a and b each run a
// proxy for the same host and push status to one branch. A workload moved
// from a to b keeps serving on a, however many ticks a makes, until b
// reports it running; then a prunes its copy.
func TestMoveKeepsServingUntilTheNewAgentServes(t *testing.T) {
	ha, hb := newHarness(t), newHarness(t)
	rtA, proxyA := ha.EmbeddedRouter()
	rtB, proxyB := hb.EmbeddedRouter()
	host := ha.App + ".test"
	placed := func(agent string) string {
		return agenttest.Routed(ha.Image, host, "web", "") + "placement:\n  agents: [" + agent + "]\n"
	}
	ha.Workload("web", placed(ha.Name))
	ha.Repo.Push("web on a")
	status := func(h *agenttest.Harness) *gitops.StatusWriter {
		sw, err := gitops.NewStatusWriter(ha.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{})
		require.NoError(t, err)
		return sw
	}
	a, stA := ha.Agent(agent.Options{Router: rtA, Status: status(ha)})
	repoB, err := gitops.NewRepo(ha.Repo.URL, "main", filepath.Join(hb.StateDir, "repo"), gitops.Credentials{})
	require.NoError(t, err)
	b := hb.AgentOn(repoB, agent.Options{Router: rtB, Status: status(hb)})
	ctx := context.Background()
	id := ha.ID("web")
	serves := func(proxy string) bool {
		body, err := loopback.Get(http.DefaultClient, proxy, host)
		return err == nil && strings.Contains(body, "web")
	}

	res, err := a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed)
	require.True(t, serves(proxyA))

	ha.Workload("web", placed(hb.Name))
	ha.Repo.Push("web moves to b")
	for range 2 { // b has not deployed it: a keeps it, tick after tick
		res, err = a.Tick(ctx)
		require.NoError(t, err)
		assert.Empty(t, res.Pruned)
		assert.True(t, serves(proxyA), "a serves until b does")
	}
	kinds := agenttest.Kinds(agenttest.Events(t, stA, id))
	assert.Equal(t, 1, strings.Count(fmt.Sprint(kinds), string(agent.KindWorkloadMoving)), "said once: %v", kinds)

	res, err = b.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed)
	require.True(t, serves(proxyB))

	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{id}, res.Pruned, "b serves it now: a prunes its copy")
	assert.False(t, serves(proxyA))
	assert.Empty(t, ha.Containers()[id])
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.True(t, res.NoOp, "nothing is moving any more: idle again")
}
