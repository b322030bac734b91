package agent_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/testkit/agenttest"
)

// TestDockerdRestartMidDeploy stops dockerd while a blue-green deploy
// waits for green to get ready, starts it again, and checks that the next
// ticks converge: exactly one container, the row naming it, the route
// pointing at it. It stops the daemon every test shares, so it runs only
// with BERTH_FAULT_DOCKERD=1 (scripts/test runs it alone, after the rest).
func TestDockerdRestartMidDeploy(t *testing.T) {
	if os.Getenv("BERTH_FAULT_DOCKERD") == "" {
		t.Skip("stops the shared dockerd: set BERTH_FAULT_DOCKERD=1 (scripts/test runs it alone)")
	}
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	clk := newClock()
	h.Workload("web", agenttest.Routed(h.Image, host, "v1", "blue-green"))
	a, st := h.Start("v1", agent.Options{Router: rt, Now: clk.Now, SelfHeal: true})

	h.Workload("web", agenttest.Routed(h.Image, host, "v2", "blue-green", "READY_DELAY: 1500ms"))
	h.Repo.Push("v2 takes its time to get ready")
	stopped := make(chan error, 1)
	go func() {
		time.Sleep(600 * time.Millisecond) // green is being gated
		stopped <- stopDockerd()
	}()
	_, err := a.Tick(context.Background())
	require.NoError(t, <-stopped)
	require.Error(t, err, "the deploy cannot finish without a daemon")
	startDockerd(t)

	var row store.Runtime
	for i := range 6 { // bounded: the ticks after the restart converge
		clk.Add(2 * time.Minute) // past any backoff
		_, err = a.Tick(context.Background())
		t.Logf("tick %d after the restart: %v", i, err)
		cs := h.Containers()[h.ID("web")]
		row = agenttest.Rows(t, st)[h.ID("web")]
		if err == nil && len(cs) == 1 && cs[0].ID == row.ContainerID && cs[0].Running() {
			break
		}
	}
	requireServes(t, h, st, proxy, host, "v2")
}

// stopDockerd stops the daemon and waits until the process is gone (and
// with it its pid file).
func stopDockerd() error {
	_ = exec.Command("pkill", "-TERM", "-x", "dockerd").Run()
	for range 300 { // bounded: 60 s
		if exec.Command("pgrep", "-x", "dockerd").Run() != nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("dockerd did not stop")
}

// startDockerd starts the daemon the way scripts/docker does.
func startDockerd(t *testing.T) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	out, err := exec.Command(filepath.Join(filepath.Dir(file), "..", "scripts", "docker")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.NoError(t, exec.Command("docker", "info").Run())
}
