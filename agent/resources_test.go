package agent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/testkit/agenttest"
)

// resources: limits reach Docker as written, and an app over its memory
// limit is reported as killed for want of memory, with the limit.
func TestResourceLimitsAndOOMKill(t *testing.T) {
	h := newHarness(t)
	h.Repo.Write("berth.yaml", "defaults:\n  resources: {pids: 64}\n")
	h.Workload("web", fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  EAT_MEMORY_AFTER: 1s\nport: 8080\nresources:\n  memory: 32Mi\n  cpus: 0.5\n", h.Image))
	a, st := h.Agent(agent.Options{})
	h.Repo.Push("a web with limits")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Watch(ctx) // the container view hears Docker's oom events
	_, err := a.Tick(ctx)
	require.NoError(t, err)

	row := agenttest.Rows(t, st)[h.ID("web")]
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	info, err := cli.ContainerInspect(ctx, row.ContainerID)
	require.NoError(t, err)
	assert.Equal(t, int64(32<<20), info.HostConfig.Memory)
	assert.Equal(t, int64(32<<20), info.HostConfig.MemorySwap, "no swap beyond the limit")
	assert.Equal(t, int64(5e8), info.HostConfig.NanoCPUs)
	require.NotNil(t, info.HostConfig.PidsLimit)
	assert.Equal(t, int64(64), *info.HostConfig.PidsLimit, "from berth.yaml defaults")

	var oom string
	for range 150 { // bounded: 30 s
		for _, e := range agenttest.Events(t, st, h.ID("web")) {
			if e.Kind == string(agent.KindWorkloadOOM) {
				oom = e.Message
			}
		}
		if oom != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	assert.Equal(t, h.ID("web")+" killed: out of memory at 32 MiB", oom)
}

// A workload's use: sampled on demand for its page, and on the slow
// interval for the status list and /metrics — never by a tick.
func TestUsageIsSampledOnDemandAndForMetrics(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", fmt.Sprintf("source:\n  type: image\n  image: %s\nport: 8080\nresources: {memory: 64Mi}\n", h.Image))
	a, _ := h.Start("web", agent.Options{})
	ctx := context.Background()
	us, err := a.Usage(ctx, h.ID("web"))
	require.NoError(t, err)
	require.Len(t, us, 1)
	assert.True(t, us[0].Running)
	assert.Equal(t, int64(64<<20), us[0].MemoryLimit)
	assert.Positive(t, us[0].MemoryBytes)
	assert.Positive(t, us[0].Pids)
	assert.WithinDuration(t, time.Now(), us[0].StartedAt, time.Minute)

	_, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Empty(t, a.SampledUsage(), "a tick samples nothing: only the interval does")

	a.SampleAll(ctx)
	require.Len(t, a.SampledUsage()[h.ID("web")], 1)
	mfs, err := a.Metrics().Gather()
	require.NoError(t, err)
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "berth_container_memory_limit_bytes" {
			found = true
			assert.Equal(t, float64(64<<20), mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	assert.True(t, found, "/metrics has the sample")
}
