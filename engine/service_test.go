package engine

import (
	"log/slog"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/sources"
)

// The spec a workload asks Swarm for: the strategy's update order, the
// gate's window as the pace, replicas or global, resources, and volumes
// pinned to the agent's node unless constraints say where.
func TestServiceSpec(t *testing.T) {
	e := New(nil, "edge", slog.New(slog.DiscardHandler), Options{Services: &Services{}, LivenessWindow: 2 * time.Second})
	w := &sources.Workload{App: "shop", Name: "web", Hash: "h1", Spec: sources.Spec{Port: 8080, Replicas: 3,
		Resources: &sources.Resources{Memory: 64 << 20, CPUs: 0.5, Pids: 100}}}
	d := Deployment{Workload: w, Decision: sources.Decision{Strategy: sources.StrategyBlueGreen}, Image: "reg/web@sha256:abc", Env: []string{"A=1"}, Commit: "c1"}
	spec := e.serviceSpec(d, "node1")
	assert.Equal(t, "berth_shop_web", spec.Name)
	assert.Equal(t, swarm.UpdateOrderStartFirst, spec.UpdateConfig.Order)
	assert.Equal(t, swarm.UpdateFailureActionRollback, spec.UpdateConfig.FailureAction)
	assert.Equal(t, 3*time.Second, spec.UpdateConfig.Delay, "Berth gates each task before Swarm moves on")
	w.Healthcheck = &sources.Healthcheck{Path: "/healthz"}
	assert.Equal(t, 2*time.Second, e.serviceSpec(d, "node1").UpdateConfig.Delay, "a healthcheck answers once ready")
	w.Healthcheck = nil
	require.NotNil(t, spec.Mode.Replicated)
	assert.Equal(t, uint64(3), *spec.Mode.Replicated.Replicas)
	cs := spec.TaskTemplate.ContainerSpec
	assert.Equal(t, "edge", cs.Labels[docker.LabelServiceAgent])
	assert.Empty(t, cs.Labels[docker.LabelAgent], "tasks are Swarm's: not in the agent's container snapshot")
	assert.Equal(t, int64(64<<20), spec.TaskTemplate.Resources.Limits.MemoryBytes)
	assert.Equal(t, swarm.PortConfigPublishModeHost, spec.EndpointSpec.Ports[0].PublishMode)
	assert.Zero(t, spec.EndpointSpec.Ports[0].PublishedPort, "an ephemeral port per task")
	assert.Empty(t, spec.TaskTemplate.Placement.Constraints)
	assert.Empty(t, policy.Policy{}.Service(spec, policy.ServiceScope{Stack: sources.ContainerName(w)}))

	w.Replicas, w.Mode = 0, sources.ModeGlobal
	d.Decision.Strategy = sources.StrategyRecreate
	d.Volumes = map[string]string{"berth-shop_web_data": "/data"}
	spec = e.serviceSpec(d, "node1")
	assert.Equal(t, swarm.UpdateOrderStopFirst, spec.UpdateConfig.Order)
	assert.NotNil(t, spec.Mode.Global)
	assert.Equal(t, []string{"node.id==node1"}, spec.TaskTemplate.Placement.Constraints, "volumes are node-local")
	assert.Empty(t, policy.Policy{}.Service(spec, policy.ServiceScope{Stack: sources.ContainerName(w)}), "its own volume passes")

	w.Constraints = []string{"node.labels.disk==ssd"}
	spec = e.serviceSpec(d, "node1")
	assert.Equal(t, []string{"node.labels.disk==ssd"}, spec.TaskTemplate.Placement.Constraints)

	// Another workload's volume is refused by the policy, as for a container.
	d.Volumes = map[string]string{"berth-shop_db_data": "/data"}
	assert.NotEmpty(t, policy.Policy{}.Service(e.serviceSpec(d, "node1"), policy.ServiceScope{Stack: sources.ContainerName(w)}))
}
