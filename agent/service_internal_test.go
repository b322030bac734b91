package agent

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// A stack's or service's row follows its tasks within one tick: all
// running is running, some is degraded, none is missing (down); a
// service's row names its running tasks' addresses.
func TestObserveTasks(t *testing.T) {
	task := func(state, addr string) docker.Task { return docker.Task{State: state, Desired: "running", Addr: addr} }
	stack := store.Runtime{WorkloadID: "a/s", Kind: string(sources.KindStack), ContainerName: "berth-a_s", Status: store.StatusRunning}
	svc := store.Runtime{WorkloadID: "a/w", Kind: string(sources.KindImage), ContainerName: "berth_a_w", Status: store.StatusRunning}
	w := &sources.Workload{App: "a", Name: "w", Spec: sources.Spec{Replicas: 3}}
	tests := []struct {
		name     string
		row      store.Runtime
		tasks    []docker.Task
		w        *sources.Workload
		status   string
		upstream string
	}{
		{"stack, all running", stack, []docker.Task{task("running", ""), task("running", "")}, nil, store.StatusRunning, ""},
		{"stack, one restarting", stack, []docker.Task{task("running", ""), task("starting", "")}, nil, store.StatusDegraded, ""},
		{"stack, every task failing", stack, []docker.Task{task("pending", ""), task("starting", "")}, nil, store.StatusMissing, ""},
		{"stack removed by hand", stack, nil, nil, store.StatusMissing, ""},
		{"service, three running", svc, []docker.Task{task("running", "127.0.0.1:2"), task("running", "127.0.0.1:1"), task("running", "10.0.0.2:3")}, w,
			store.StatusRunning, "10.0.0.2:3,127.0.0.1:1,127.0.0.1:2"},
		{"service, a replica not yet replaced", svc, []docker.Task{task("running", "127.0.0.1:1"), task("running", "127.0.0.1:2")}, w,
			store.StatusDegraded, "127.0.0.1:1,127.0.0.1:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ob := observe(tt.row, nil, tt.w)
			observeTasks(&ob, tt.row, tt.tasks, tt.w)
			assert.Equal(t, tt.status, ob.next.Status)
			assert.Equal(t, tt.upstream, ob.next.Upstream)
			assert.Equal(t, tt.status != store.StatusRunning, ob.changed)
		})
	}
	assert.True(t, serviceRow(svc))
	assert.False(t, serviceRow(stack))
}
