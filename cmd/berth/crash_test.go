package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/internal/statedir"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
	"github.com/berthops/berth/testkit/loopback"
)

// startProxy runs `berth proxy`: the embedded Caddy with an admin API, in
// its own process, so it outlives the agent processes the test kills.
func startProxy(t *testing.T) (httpAddr, admin string) {
	t.Helper()
	p := newProxy(t, "")
	p.start(t)
	return p.http, "http://" + p.admin
}

// proxyProcess is a `berth proxy` the test can kill and start again on
// the same flags and state dir.
type proxyProcess struct {
	http, https, admin, state string
	extra                     []string // more flags
	cmd                       *exec.Cmd
	stderr                    *syncBuffer
}

func newProxy(t *testing.T, https string) *proxyProcess {
	return &proxyProcess{http: loopback.FreeAddr(t), https: https, admin: loopback.FreeAddr(t), state: t.TempDir()}
}

// start runs the proxy and returns once its admin API answers.
func (p *proxyProcess) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(agenttest.Berth(t), append([]string{"proxy", "--http", p.http, "--https", p.https, "--admin", p.admin, "--state-dir", p.state}, p.extra...)...)
	p.stderr = &syncBuffer{}
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
	cmd := p.cmd
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 { // bounded: 10 s
		if resp, err := http.Get("http://" + p.admin + "/config/"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("berth proxy did not start:\n%s", p.stderr.String())
}

// kill ends the proxy as a crash or an OOM kill would: SIGKILL.
func (p *proxyProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	_ = p.cmd.Wait()
}

// crashWorld is what a crash drill runs against: a real `berth proxy`, a
// config repo on a git server, and the env of the `berth sync` processes
// the drill kills.
type crashWorld struct {
	docker     *docker.Client
	name, host string
	proxy      string
	src        *gitserver.Repo
	app, state string
	env        []string
}

func newCrashWorld(t *testing.T) *crashWorld {
	t.Helper()
	w := &crashWorld{docker: dockertest.Docker(t), name: dockertest.AgentName(t), state: t.TempDir()}
	w.app = "c" + w.name[2:]
	w.host = w.app + ".test"
	var admin string
	w.proxy, admin = startProxy(t)
	w.src = gitserver.Start(t).NewRepo(t, "config")
	w.env = []string{
		"BERTH_STATE_DIR=" + w.state, "BERTH_AGENT_NAME=" + w.name, "BERTH_ROUTER=caddy", "BERTH_CADDY_ADMIN=" + admin,
		"BERTH_HTTP=" + w.proxy, "BERTH_HTTPS=", "BERTH_DRAIN=100ms", "BERTH_STATUS_BRANCH=",
	}
	return w
}

// requireConverged checks the drill's invariants: exactly one running
// container, the state row names it, and the proxy serves want from it.
func (w *crashWorld) requireConverged(t *testing.T, want string) map[string]any {
	t.Helper()
	cs, err := w.docker.List(t.Context(), w.name)
	require.NoError(t, err)
	require.Len(t, cs, 1, "exactly one container, no orphan")
	assert.True(t, cs[0].Running())
	r := run(t, w.env, "status", "--json")
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	require.Len(t, rows, 1)
	assert.Equal(t, cs[0].ID, rows[0]["container_id"], "the state row names the container that exists")
	body, err := loopback.Get(&http.Client{Timeout: 5 * time.Second}, w.proxy, w.host)
	require.NoError(t, err)
	assert.Contains(t, body, want, "the route points at the version that serves")
	assert.True(t, strings.HasSuffix(rows[0]["upstream"].(string), fmt.Sprint(cs[0].HostPort)))
	return rows[0]
}

// TestCrashAtEveryBlueGreenStepConverges kills the agent at each step of
// a blue-green deploy (DESIGN §4), runs the next tick, and checks that the
// workload has exactly one serving container, that the route points at it,
// that the state row names it, and that no green is left behind.
func TestCrashAtEveryBlueGreenStepConverges(t *testing.T) {
	w := newCrashWorld(t)
	img := dockertest.Image(t, "cli")
	workload := func(msg string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: %q\nport: 8080\nroute:\n  hosts: [%s]\nhealthcheck:\n  path: /healthz\n  timeout: 5s\n", img, msg, w.host)
	}
	w.src.Write("apps/"+w.app+"/web.yaml", workload("v0")).Push("v0")
	r := run(t, w.env, "sync", "--repo", w.src.URL)
	require.Equal(t, 0, r.code, r.stderr)
	for i, step := range engine.Steps[sources.StrategyBlueGreen] {
		t.Run(string(step), func(t *testing.T) {
			msg := fmt.Sprintf("v%d", i+1)
			w.src.Write("apps/"+w.app+"/web.yaml", workload(msg)).Push(msg)
			r := run(t, append(w.env, "BERTH_FAILPOINT="+string(step)), "sync", "--repo", w.src.URL)
			require.Equal(t, fault.FailpointExitCode, r.code, "the failpoint must kill the process:\n%s", r.stderr)
			r = run(t, w.env, "sync", "--repo", w.src.URL)
			require.Equal(t, 0, r.code, r.stderr)
			row := w.requireConverged(t, msg)
			assert.Equal(t, "succeeded", row["last_deploy"])
		})
	}
}

// TestCrashAtEveryRecreateStepConverges kills the agent at each step of a
// recreate. Before the gate the new version never gets ready: the next
// sync tries it again, it fails, and the old version serves again. From
// the gate on the new version is good: the next sync finishes the job.
// Either way exactly one container serves, the row names it and the
// route points at it.
func TestCrashAtEveryRecreateStepConverges(t *testing.T) {
	w := newCrashWorld(t)
	img := dockertest.Image(t, "cli")
	workload := func(msg string, bad bool) string {
		extra := ""
		if bad {
			extra = "  NEVER_READY: \"1\"\n"
		}
		return fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  MESSAGE: %q\n%sport: 8080\nroute:\n  hosts: [%s]\nhealthcheck:\n  path: /healthz\n  timeout: 3s\n", img, msg, extra, w.host)
	}
	w.src.Write("apps/"+w.app+"/web.yaml", workload("v0", false)).Push("v0")
	r := run(t, w.env, "sync", "--repo", w.src.URL)
	require.Equal(t, 0, r.code, r.stderr)
	serving := "v0"
	for i, step := range engine.Steps[sources.StrategyRecreate] {
		t.Run(string(step), func(t *testing.T) {
			msg := fmt.Sprintf("v%d", i+1)
			bad := step == fault.FailAfterOldStop || step == fault.FailAfterNewStart
			w.src.Write("apps/"+w.app+"/web.yaml", workload(msg, bad)).Push(msg)
			r := run(t, append(w.env, "BERTH_FAILPOINT="+string(step)), "sync", "--repo", w.src.URL)
			require.Equal(t, fault.FailpointExitCode, r.code, "the failpoint must kill the process:\n%s", r.stderr)
			r = run(t, w.env, "sync", "--repo", w.src.URL)
			if bad {
				require.Equal(t, 1, r.code, "the retried version fails again:\n%s", r.stderr)
			} else {
				serving = msg
				require.Equal(t, 0, r.code, r.stderr)
			}
			w.requireConverged(t, serving)
		})
	}
}

// TestCrashDuringCheckoutConverges kills `berth sync` after the work tree
// was reset to a new commit but before the checkout was recorded: the
// next sync checks out again and deploys the new commit.
func TestCrashDuringCheckoutConverges(t *testing.T) {
	w := newCrashWorld(t)
	img := dockertest.Image(t, "cli")
	workload := func(msg string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  MESSAGE: %q\nport: 8080\nroute:\n  hosts: [%s]\n", img, msg, w.host)
	}
	w.src.Write("apps/"+w.app+"/web.yaml", workload("v0")).Push("v0")
	r := run(t, w.env, "sync", "--repo", w.src.URL)
	require.Equal(t, 0, r.code, r.stderr)
	w.src.Write("apps/"+w.app+"/web.yaml", workload("v1")).Push("v1")
	r = run(t, append(w.env, "BERTH_FAILPOINT="+string(fault.FailAfterCheckout)), "sync", "--repo", w.src.URL)
	require.Equal(t, fault.FailpointExitCode, r.code, "the failpoint must kill the process:\n%s", r.stderr)
	w.requireConverged(t, "v0") // nothing was deployed from the unrecorded checkout
	r = run(t, w.env, "sync", "--repo", w.src.URL)
	require.Equal(t, 0, r.code, r.stderr)
	w.requireConverged(t, "v1")
}

// TestOneOwnerPerStateDir: a second sync on a state dir in use exits at
// once naming the holder; status and events still read it.
func TestOneOwnerPerStateDir(t *testing.T) {
	dockertest.Docker(t)
	state := t.TempDir()
	src := gitserver.Start(t).NewRepo(t, "config")
	src.Write("README.md", "empty\n").Push("empty")
	r := run(t, nil, "sync", "--repo", src.URL, "--state-dir", state, "--router", "none", "--status-branch", "")
	require.Equal(t, 0, r.code, r.stderr)

	holder := exec.Command("flock", filepath.Join(state, "lock"), "sleep", "30")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, holder.Start())
	t.Cleanup(func() { _ = syscall.Kill(-holder.Process.Pid, syscall.SIGKILL); _ = holder.Wait() })
	for range 100 { // bounded: until flock(1) holds it
		l, err := statedir.Acquire(state, "probe")
		if err != nil {
			break
		}
		require.NoError(t, l.Release())
		time.Sleep(50 * time.Millisecond)
	}
	r = run(t, nil, "sync", "--repo", src.URL, "--state-dir", state, "--router", "none")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "state dir "+state+" is in use by")
	r = run(t, nil, "status", "--state-dir", state)
	assert.Equal(t, 0, r.code, "status reads a state dir in use: %s", r.stderr)
	r = run(t, nil, "events", "--state-dir", state)
	assert.Equal(t, 0, r.code, "events read it too: %s", r.stderr)
}
