package agent_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/agenttest"
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
