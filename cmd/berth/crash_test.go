package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/internal/agenttest"
	"github.com/berthops/berth/internal/dockertest"
	"github.com/berthops/berth/internal/gitserver"
	"github.com/berthops/berth/internal/loopback"
	"github.com/berthops/berth/sources"
)

// startProxy runs `berth proxy`: the embedded Caddy with an admin API, in
// its own process, so it outlives the agent processes the test kills.
func startProxy(t *testing.T) (httpAddr, admin string) {
	t.Helper()
	httpAddr, admin = loopback.FreeAddr(t), loopback.FreeAddr(t)
	cmd := exec.Command(agenttest.Berth(t), "proxy", "--http", httpAddr, "--https", "", "--admin", admin, "--state-dir", t.TempDir())
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 {
		if resp, err := http.Get("http://" + admin + "/config/"); err == nil {
			resp.Body.Close()
			return httpAddr, "http://" + admin
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("berth proxy did not start:\n%s", stderr.String())
	return "", ""
}

// TestCrashAtEveryBlueGreenStepConverges kills the agent at each step of
// a blue-green deploy (DESIGN §4), runs the next tick, and checks that the
// workload has exactly one serving container, that the route points at it,
// that the state row names it, and that no green is left behind.
func TestCrashAtEveryBlueGreenStepConverges(t *testing.T) {
	docker := dockertest.Docker(t)
	img := dockertest.Image(t, "cli")
	name := dockertest.AgentName(t)
	app := "c" + name[2:]
	host := app + ".test"
	proxy, admin := startProxy(t)
	state := t.TempDir()
	src := gitserver.Start(t).NewRepo(t, "config")
	workload := func(msg string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: %q\nport: 8080\nroute:\n  hosts: [%s]\nhealthcheck:\n  path: /healthz\n  timeout: 5s\n", img, msg, host)
	}
	env := []string{
		"BERTH_STATE_DIR=" + state, "BERTH_AGENT_NAME=" + name, "BERTH_ROUTER=caddy", "BERTH_CADDY_ADMIN=" + admin,
		"BERTH_HTTP=" + proxy, "BERTH_HTTPS=", "BERTH_DRAIN=100ms",
	}
	src.Write("apps/"+app+"/web.yaml", workload("v0")).Push("v0")
	r := run(t, env, "sync", "--repo", src.URL)
	require.Equal(t, 0, r.code, r.stderr)

	for i, step := range sources.Steps {
		t.Run(string(step), func(t *testing.T) {
			msg := fmt.Sprintf("v%d", i+1)
			src.Write("apps/"+app+"/web.yaml", workload(msg)).Push(msg)
			r := run(t, append(env, "BERTH_FAILPOINT="+string(step)), "sync", "--repo", src.URL)
			require.Equal(t, sources.FailpointExitCode, r.code, "the failpoint must kill the process:\n%s", r.stderr)

			r = run(t, env, "sync", "--repo", src.URL)
			require.Equal(t, 0, r.code, r.stderr)

			cs, err := docker.List(t.Context(), name)
			require.NoError(t, err)
			require.Len(t, cs, 1, "exactly one container, no orphan green")
			c := cs[0]
			assert.True(t, c.Running())

			r = run(t, env, "status", "--json")
			var rows []map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
			require.Len(t, rows, 1)
			assert.Equal(t, c.ID, rows[0]["container_id"], "the state row names the container that exists")
			assert.Equal(t, "succeeded", rows[0]["last_deploy"])

			body, err := loopback.Get(&http.Client{Timeout: 5 * time.Second}, proxy, host)
			require.NoError(t, err)
			assert.Contains(t, body, msg, "the route points at the new version")
			var table struct{ Routes []struct{ Upstream string } }
			b, err := os.ReadFile(filepath.Join(state, "routes.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &table))
			require.Len(t, table.Routes, 1)
			assert.Equal(t, rows[0]["upstream"], table.Routes[0].Upstream)
			assert.True(t, strings.HasSuffix(table.Routes[0].Upstream, fmt.Sprint(c.HostPort)))
		})
	}
}
