package agent_test

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/loopback"
)

// A push to --push-registry that fails (nothing listens there any more)
// fails the deploy before Swarm is asked for anything: the deploy is
// reported failed naming the push, the service keeps the version it had,
// and that version keeps serving.
func TestSwarmEnginePushFailureLeavesTheServiceAsItWas(t *testing.T) {
	requireSwarm(t)
	h := newHarness(t)
	h.CleanBuilt()
	reg := dockertest.Registry(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	id, svc := h.ID("api"), "berth_"+h.App+"_api"
	t.Cleanup(func() { removeService(t, svc) })
	release := builds(h, host, "")
	image := func() string {
		out, err := exec.Command("docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", svc).Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	release("v1")
	opts := swarmOptions(h, rt)
	opts.PushRegistry = reg
	a, _ := h.Agent(opts)
	ctx := context.Background()
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed, "failed: %v", res.Failed)
	v1 := image()

	gone := loopback.FreeAddr(t) // nothing listens: the registry went away
	opts.PushRegistry = gone
	b, st := h.Agent(opts)
	release("v2")
	res, err = b.Tick(ctx)
	require.Error(t, err)
	assert.Equal(t, []string{id}, res.Failed)
	ev := agenttest.Events(t, st, id)
	assert.Contains(t, ev[len(ev)-1].Message, gone, "the failure names the registry: %s", ev[len(ev)-1].Message)
	assert.Equal(t, v1, image(), "Swarm was asked for nothing")
	for range 10 {
		body, err := loopback.Get(http.DefaultClient, proxy, host)
		require.NoError(t, err)
		require.Contains(t, body, "v1", "the version that served keeps serving")
	}
}
