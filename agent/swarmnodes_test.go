package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/loopback"
)

// builds returns a pusher of releases of a routed dockerfile workload
// "api" whose build answers msg; extra lines go in its file.
func builds(h *agenttest.Harness, host, extra string) func(msg string) {
	return func(msg string) {
		h.Repo.Write("apps/"+h.App+"/api/Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=%q\n", h.Image, msg))
		h.Workload("api", fmt.Sprintf("source:\n  type: dockerfile\n  context: api\nport: 8080\nroute:\n  hosts: [%s]\n%s", host, extra))
		h.Repo.Push(msg)
	}
}

// answeredBy is the container (the hello server's hostname) an answer
// names: "MESSAGE (hostname)".
var answeredBy = regexp.MustCompile(`\(([0-9a-f]{12})\)`)

// A second dockerd on this machine joins the swarm as a worker: a
// workload with mode: global runs one task on each node, built once,
// pushed to the registry and pulled by digest on the other node; the
// proxy spreads over both; a new version rolls over both nodes under
// load with no failed request.
func TestSwarmEngineSpreadsAWorkloadOverTwoNodes(t *testing.T) {
	requireSwarm(t)
	node := dockertest.SecondNode(t)
	h := newHarness(t)
	h.CleanBuilt()
	reg := dockertest.Registry(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	id, svc := h.ID("api"), "berth_"+h.App+"_api"
	t.Cleanup(func() { removeService(t, svc) })
	onNode := func() []string {
		out, err := node.Docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+svc)
		require.NoError(t, err, "%s", out)
		return strings.Fields(string(out))
	}
	release := builds(h, host, "mode: global\nhealthcheck:\n  path: /healthz\n")
	// answers asks the proxy n times and returns the containers that
	// answered, each with the answer's message.
	answers := func(n int) map[string]string {
		out := map[string]string{}
		c := &http.Client{Timeout: 5 * time.Second}
		for range n {
			body, err := loopback.Get(c, proxy, host)
			require.NoError(t, err)
			if m := answeredBy.FindStringSubmatch(body); m != nil {
				out[m[1]] = strings.TrimSpace(strings.SplitN(body, " (", 2)[0])
			}
		}
		return out
	}

	release("v1")
	opts := swarmOptions(h, rt)
	opts.PushRegistry = reg
	a, _ := h.Agent(opts)
	ctx := context.Background()
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed, "failed: %v", res.Failed)
	assert.Len(t, serviceTasks(t, svc), 1, "one task on the manager")
	assert.Len(t, onNode(), 1, "one task on the second node")
	r, _ := rt.Get(id)
	assert.Len(t, r.Addrs(), 2, "the route holds both nodes' tasks: %s", r.Upstream)
	got := answers(40)
	assert.Len(t, got, 2, "both nodes' tasks answer through the proxy: %v", got)
	for c, msg := range got {
		assert.Equal(t, "v1", msg, c)
	}
	tasks := onNode()
	require.Len(t, tasks, 1)
	out, err := node.Docker("inspect", "--format", "{{.Config.Image}}", tasks[0])
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(string(out)), reg+"/berth/"+h.App+"_api@sha256:"),
		"the second node pulled the pushed build by digest: %s", out)

	l := agenttest.StartLoad(proxy, host)
	release("v2")
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed, "failed: %v", res.Failed)
	time.Sleep(300 * time.Millisecond)
	l.Finish()
	assert.Zero(t, l.Failed.Load(), "failed requests while v2 rolled over two nodes (first: %v)", l.FirstError())
	assert.Greater(t, l.OK.Load(), int64(100))
	got = answers(40)
	assert.Len(t, got, 2, "both nodes serve v2: %v", got)
	for c, msg := range got {
		assert.Equal(t, "v2", msg, c)
	}
	t.Logf("two nodes: %d requests during the rollout, %d failed", l.OK.Load()+l.Failed.Load(), l.Failed.Load())
}
