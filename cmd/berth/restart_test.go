package main_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/loopback"
)

// The packaged topology: `berth proxy` in its own unit with its admin API
// on a unix socket (0660), the agent attached to it. Restarting the agent,
// and upgrading its binary (a different build started in its place),
// drop no request of 4 keep-alive clients: the proxy and its routes never
// stop. A second proxy on the taken port refuses to start and names the
// address.
func TestAgentRestartAndUpgradeDropNothing(t *testing.T) {
	w := newCLIWorld(t)
	dir, err := os.MkdirTemp("", "berth-sock-") // short: a socket path is at most 108 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "proxy.sock")
	httpAddr := loopback.FreeAddr(t)
	proxy := exec.Command(agenttest.Berth(t), "proxy", "--http", httpAddr, "--https", "", "--admin", "unix://"+sock, "--state-dir", t.TempDir())
	pstderr := &syncBuffer{}
	proxy.Stderr = pstderr
	require.NoError(t, proxy.Start())
	t.Cleanup(func() { _ = proxy.Process.Kill(); _ = proxy.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the proxy's admin socket:\n%s", pstderr)
	st, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), st.Mode().Perm(), "the admin socket is the proxy's user and group only")

	// A second proxy on the same HTTP address does not share it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, agenttest.Berth(t), "proxy", "--http", httpAddr, "--https", "", "--admin", loopback.FreeAddr(t), "--state-dir", t.TempDir())
	out, err := second.CombinedOutput()
	require.Error(t, err, "a second proxy on a taken port must not start:\n%s", out)
	assert.Contains(t, string(out), httpAddr)

	host := w.app + ".test"
	w.src.Write("apps/"+w.app+"/web.yaml", routedYAML(w.img, host, "v1")).Push("v1")
	state := t.TempDir()
	args := []string{"--repo", w.src.URL, "--state-dir", state, "--agent-name", w.name, "--status-branch", "",
		"--router", "caddy", "--caddy-admin", "unix://" + sock, "--schedule", "@every 1s"}
	ag := startAgent(t, args...)
	servedWithin(t, httpAddr, host, "v1", 30*time.Second)

	// The next version of the binary: a different build.
	next := filepath.Join(t.TempDir(), "berth")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v99.0.0-next", "-o", next, "./")
	out, err = build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	l := agenttest.StartLoad(httpAddr, host)
	time.Sleep(500 * time.Millisecond)
	stop := func(ag *agentProcess) {
		require.NoError(t, ag.cmd.Process.Signal(syscall.SIGTERM))
		select {
		case <-ag.done:
		case <-time.After(60 * time.Second):
			t.Fatal("the agent did not stop on SIGTERM")
		}
	}
	stop(ag)
	time.Sleep(500 * time.Millisecond) // no agent at all for a while
	ag = startAgent(t, args...)
	time.Sleep(2 * time.Second) // it ticks (idle) and repairs nothing
	stop(ag)
	ag = startAgentWith(t, next, args...)
	time.Sleep(2 * time.Second)
	l.Finish()
	failed, gap, _ := l.Stats()
	t.Logf("agent restarted, then upgraded, under 4 keep-alive clients: %d requests failed, longest gap %s", failed, gap)
	assert.Zero(t, failed)
	v, err := exec.Command(next, "version").Output()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(v), "berth v99.0.0-next"), "%s", v)
	servedWithin(t, httpAddr, host, "v1", 5*time.Second)
	_ = ag
}

// An agent whose embedded proxy cannot have its address to itself (here a
// plain listener holds it) refuses to start, naming the address and the
// holder, instead of sharing the port through SO_REUSEPORT.
func TestEmbeddedProxyRefusesATakenPort(t *testing.T) {
	dockertest.Docker(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	repo := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "apps"), 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agenttest.Berth(t), "agent", "--repo", repo, "--state-dir", t.TempDir(), "--allow", "local-repos",
		"--router", "embedded", "--http", taken.Addr().String(), "--https", "", "--listen", loopback.FreeAddr(t), "--status-branch", "")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), taken.Addr().String()+" is taken by pid")
}
