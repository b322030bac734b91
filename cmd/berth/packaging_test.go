package main_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/loopback"
)

func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s:\n%s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// TestAgentImageRunsTheDemo builds packaging/Dockerfile (FROM scratch:
// berth, berth-site, CA roots) and runs `berth agent` in it, on the host's
// network with the Docker socket and a state volume, against the example
// config repo (its compose stack left out: the image has no docker CLI).
// Every workload serves: an image, a worker, a dockerfile build and a
// static site built with the berth-site inside the image.
func TestAgentImageRunsTheDemo(t *testing.T) {
	w := newCLIWorld(t)
	if _, err := exec.Command("docker", "image", "inspect", "berth-example/hello:1").CombinedOutput(); err != nil {
		dockerCLI(t, "tag", w.img, "berth-example/hello:1")
		t.Cleanup(func() { _ = exec.Command("docker", "rmi", "berth-example/hello:1").Run() })
	}
	// The build context, as scripts/image makes it.
	ctx := t.TempDir()
	bin := agenttest.Berth(t)
	require.NoError(t, os.MkdirAll(filepath.Join(ctx, "out", "tmp"), 0o755))
	for _, f := range []struct{ from, to string }{
		{bin, "out/berth"}, {agenttest.SiteServer(t), "out/berth-site"}, {"/etc/ssl/certs/ca-certificates.crt", "out/ca-certificates.crt"},
		{"../../packaging/Dockerfile", "Dockerfile"},
	} {
		b, err := os.ReadFile(f.from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(ctx, f.to), b, 0o755))
	}
	tag := "berth-test/agent:" + w.name
	dockerCLI(t, "build", "-q", "-t", tag, ctx)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })

	// The demo repo without its compose stack.
	require.NoError(t, filepath.WalkDir("../../examples/hello", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "/apps/tools/") {
			return err
		}
		rel, _ := filepath.Rel("../../examples/hello", path)
		b, err := os.ReadFile(path)
		if err == nil {
			w.src.Write(rel, string(b))
		}
		return err
	}))
	w.src.Push("the demo")
	state, api := t.TempDir(), loopback.FreeAddr(t)
	name := "berth-agent-" + w.name
	dockerCLI(t, "run", "-d", "--name", name, "--network", "host", "-v", "/var/run/docker.sock:/var/run/docker.sock",
		"-v", state+":/var/lib/berth", tag, "agent", "--repo", w.src.URL, "--agent-name", w.name, "--router", "none",
		"--status-branch", "", "--schedule", "@every 1h", "--listen", api)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "40", name).CombinedOutput()
			t.Logf("agent logs:\n%s", out)
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
		// The workloads' containers before their images (an image in use,
		// and its parent, cannot go), and before the test image's cleanup.
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=berth.agent="+w.name).Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rm", "-f", "-v", id).Run()
		}
		for _, img := range []string{"berth/hello_api", "berth/hello_site"} {
			out, _ := exec.Command("docker", "images", "-q", img).Output()
			for _, id := range strings.Fields(string(out)) {
				_ = exec.Command("docker", "rmi", "-f", id).Run()
			}
		}
	})

	want := []string{"hello/api", "hello/site", "hello/web", "hello/worker"}
	var got map[string]string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + api + "/api/workloads")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var rows []struct {
			ID     string `json:"workload_id"`
			Status string `json:"status"`
		}
		if json.NewDecoder(resp.Body).Decode(&rows) != nil {
			return false
		}
		got = map[string]string{}
		for _, r := range rows {
			got[r.ID] = r.Status
		}
		for _, id := range want {
			if got[id] != "running" {
				return false
			}
		}
		return true
	}, 3*time.Minute, time.Second, "every demo workload runs")
	assert.Len(t, got, len(want))
}

// TestSystemdUnit checks packaging/berth.service and berth-proxy.service
// with systemd-analyze verify (the binary path pointed at the built
// berth), their hardening, and that berth accepts each ExecStart command
// line. The agent has no capability at all: the proxy, in its own unit,
// binds :80 and :443, and the two talk over the proxy's unix socket.
func TestSystemdUnit(t *testing.T) {
	units := map[string][]string{
		"berth.service": {"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "StateDirectory=berth",
			"ReadWritePaths=/var/lib/berth", "User=berth", "SupplementaryGroups=docker", "CapabilityBoundingSet=", "Wants=berth-proxy.service"},
		"berth-proxy.service": {"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=berth-proxy", "User=berth",
			"RuntimeDirectory=berth-proxy", "RuntimeDirectoryPreserve=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"},
	}
	dir := t.TempDir()
	for name, wants := range units {
		unit, err := os.ReadFile("../../packaging/" + name)
		require.NoError(t, err)
		for _, want := range wants {
			assert.Contains(t, string(unit), "\n"+want+"\n", name)
		}
		var exec0 []string
		for _, line := range strings.Split(string(unit), "\n") {
			if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
				exec0 = strings.Fields(rest)
			}
		}
		require.NotEmpty(t, exec0)
		assert.Equal(t, "/usr/bin/berth", exec0[0], "the path the .deb installs")
		assert.Contains(t, exec0, "unix:///run/berth-proxy/admin.sock", "%s: the agent and the proxy talk over the socket", name)
		r := run(t, nil, append(exec0[1:], "--help")...)
		assert.Equal(t, 0, r.code, "berth accepts the unit's command line: %s", r.stderr)
		local := strings.ReplaceAll(string(unit), "/usr/bin/berth", agenttest.Berth(t))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(local), 0o644))
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze to verify the units with")
	}
	for name := range units {
		out, err := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, name)).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify has no complaint about %s", name)
	}
}
