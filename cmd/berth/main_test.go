package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
	"github.com/berthops/berth/testkit/loopback"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.RemoveImages()
	agenttest.RemoveBerth()
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(agenttest.Berth(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func TestValidateExitCodes(t *testing.T) {
	bad := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(bad, "apps/shop"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "apps/shop/web.yaml"),
		[]byte("source:\n  type: image\n  image: registry.example.com/shop/web:1.4.2\n  deploy_strategy: \"bluegreen\"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "apps/shop/api.yaml"), []byte("source:\n  type: image\n  image: x:1\n  tag: 2\n"), 0o644))

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
	}{
		{"valid example", []string{"validate", "../../examples/hello"}, 0, []string{"ok: 5 workload(s)"}},
		{"every error listed", []string{"validate", bad}, 1, []string{
			`apps/shop/api.yaml:4:3: source.tag: unknown field`,
			`apps/shop/web.yaml:4:20: source.deploy_strategy: "bluegreen" is not one of "", "recreate", "blue-green"`}},
		{"path flag", []string{"validate", "../..", "--path", "examples/hello"}, 0, []string{"ok: 5 workload(s)"}},
		{"missing dir", []string{"validate", filepath.Join(bad, "nope")}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.args...)
			assert.Equal(t, tc.code, r.code, r.stdout+r.stderr)
			for _, s := range tc.stdout {
				assert.Contains(t, r.stdout, s)
			}
		})
	}
}

func TestSyncStatusEvents(t *testing.T) {
	w := newCLIWorld(t)
	img, name, app, src := w.img, w.name, w.app, w.src
	src.Write("apps/"+app+"/web.yaml", "source:\n  type: image\n  image: "+img+"\nport: 8080\n")
	src.Write("apps/"+app+"/bad.yaml", "source:\n  type: image\n")
	src.Push("web and a broken file")
	state := t.TempDir()
	env := []string{"BERTH_STATE_DIR=" + state, "BERTH_AGENT_NAME=" + name}

	r := run(t, env, "sync", "--repo", src.URL)
	assert.Equal(t, 1, r.code, "a broken workload makes sync fail")
	assert.Contains(t, r.stderr, "pulling")
	assert.Contains(t, r.stderr, "deploying workload="+app+"/web")
	assert.Contains(t, r.stderr, "done")
	assert.Contains(t, r.stderr, "apps/"+app+"/bad.yaml:2:3: source.image: is required")

	r = run(t, env, "status", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	byID := map[string]map[string]any{}
	for _, row := range rows {
		byID[row["workload_id"].(string)] = row
	}
	assert.Equal(t, "running", byID[app+"/web"]["status"])
	assert.Equal(t, "invalid", byID[app+"/bad"]["last_deploy"])

	r = run(t, env, "status")
	assert.Contains(t, r.stdout, app+"/web")

	r = run(t, env, "events", "--workload", app+"/web")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "deploy.started")
	assert.Contains(t, r.stdout, "deploy.succeeded")

	// Fixing the broken file makes the next sync succeed.
	src.Remove("apps/" + app + "/bad.yaml").Push("fix")
	r = run(t, env, "sync", "--repo", src.URL)
	assert.Equal(t, 0, r.code, r.stderr)
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cliWorld is what most CLI tests deploy: the hello image, a unique agent
// name (its containers are removed after the test) and app, and a config
// repo on a git server.
type cliWorld struct {
	img, name, app string
	src            *gitserver.Repo
}

func newCLIWorld(t *testing.T, opts ...gitserver.Option) cliWorld {
	t.Helper()
	dockertest.Docker(t)
	w := cliWorld{img: dockertest.Image(t, "cli"), name: dockertest.AgentName(t)}
	w.app = "c" + w.name[2:]
	w.src = gitserver.Start(t, opts...).NewRepo(t, "config")
	return w
}

// agentProcess is a `berth agent` the test started.
type agentProcess struct {
	addr   string // the API listener
	stderr *syncBuffer
	cmd    *exec.Cmd
	done   chan struct{} // closed at the exit
	err    error         // the exit status, once done is closed
}

// startAgent runs `berth agent` with args and --listen on a free port; it
// returns once the API answers. The process is killed when the test ends.
func startAgent(t *testing.T, args ...string) *agentProcess {
	t.Helper()
	return startAgentWith(t, agenttest.Berth(t), args...)
}

// startAgentWith runs `berth agent` from the binary at bin.
func startAgentWith(t *testing.T, bin string, args ...string) *agentProcess {
	t.Helper()
	ag := &agentProcess{addr: loopback.FreeAddr(t), stderr: &syncBuffer{}, done: make(chan struct{})}
	ag.cmd = exec.Command(bin, append([]string{"agent", "--listen", ag.addr}, args...)...)
	ag.cmd.Stderr = ag.stderr
	require.NoError(t, ag.cmd.Start())
	go func() { ag.err = ag.cmd.Wait(); close(ag.done) }()
	t.Cleanup(func() { _ = ag.cmd.Process.Kill(); <-ag.done })
	for range 100 { // bounded: 20 s
		if resp, err := http.Get("http://" + ag.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return ag
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("agent never answered:\n%s", ag.stderr.String())
	return nil
}

func TestAgentServesAndStopsOnSIGTERM(t *testing.T) {
	w := newCLIWorld(t)
	img, name, app, src := w.img, w.name, w.app, w.src
	src.Write("apps/"+app+"/web.yaml", "source:\n  type: image\n  image: "+img+"\nport: 8080\n").Push("web")
	ag := startAgent(t, "--repo", src.URL, "--state-dir", t.TempDir(), "--agent-name", name, "--schedule", "@every 1h", "--router", "none")
	addr, stderr := ag.addr, ag.stderr
	ready := false
	for range 100 { // bounded: 20 s
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = true
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.True(t, ready, "agent never became ready:\n%s", stderr.String())

	resp, err := http.Get("http://" + addr + "/api/workloads")
	require.NoError(t, err)
	var rows []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rows))
	resp.Body.Close()
	require.Len(t, rows, 1)
	assert.Equal(t, app+"/web", rows[0]["workload_id"])

	resp, err = http.Get("http://" + addr + "/api/workloads/" + app + "/web/events?limit=1")
	require.NoError(t, err)
	var evs []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&evs))
	resp.Body.Close()
	require.Len(t, evs, 1)
	assert.Equal(t, "deploy.succeeded", evs[0]["kind"])

	resp, err = http.Post("http://"+addr+"/api/sync", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)

	require.NoError(t, ag.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-ag.done:
		require.NoError(t, ag.err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not stop on SIGTERM:\n%s", stderr.String())
	}
	assert.Contains(t, stderr.String(), "agent stopped")
}

func TestSecretsCLI(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "key.txt")
	r := run(t, nil, "secrets", "keygen", "--out", key)
	require.Equal(t, 0, r.code, r.stderr)
	rcpt := strings.TrimSpace(r.stdout)
	info, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	assert.NotEqual(t, 0, run(t, nil, "secrets", "keygen", "--out", key).code, "never overwrites an identity")

	setWith := func(stdin string, args ...string) result {
		cmd := exec.Command(agenttest.Berth(t), append([]string{"secrets", "set", "--dir", dir}, args...)...)
		if stdin != "-" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return result{code, out.String(), errb.String()}
	}
	r = setWith("v", "TOKEN")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "no recipients")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte("secrets:\n  recipients: ["+rcpt+"]\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "apps", "shop"), 0o755))
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string
	}{
		{"no stdin", "-", []string{"TOKEN"}, 2, "pipe the value on stdin"},
		{"empty value", "\n", []string{"TOKEN"}, 1, "the value is empty"},
		{"bad name", "v", []string{"token"}, 1, "not a variable name"},
		{"unknown app", "v", []string{"TOKEN", "--app", "nope"}, 1, `no app "nope"`},
		{"global", "global-value", []string{"TOKEN"}, 0, "secrets/TOKEN.age"},
		{"app", "app-value", []string{"KEY", "--app", "shop"}, 0, "apps/shop/secrets/KEY.age"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := setWith(tc.stdin, tc.args...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.stderr)
		})
	}
	r = run(t, nil, "secrets", "ls", "--dir", dir)
	assert.Contains(t, r.stdout, "TOKEN")
	assert.Contains(t, r.stdout, "app:shop")
	assert.NotContains(t, r.stdout, "global-value")
	assert.Equal(t, 0, run(t, nil, "validate", dir).code)

	// New recipients: reencrypt with the old identity, decrypt with the new.
	key2 := filepath.Join(t.TempDir(), "key2.txt")
	rcpt2 := strings.TrimSpace(run(t, nil, "secrets", "keygen", "--out", key2).stdout)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte("secrets:\n  recipients: ["+rcpt2+"]\n"), 0o644))
	r = run(t, nil, "secrets", "reencrypt", "--dir", dir, "--identity", key)
	require.Equal(t, 0, r.code, r.stderr)
	ids, err := secrets.LoadIdentities([]string{key2})
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, "secrets", "TOKEN.age"))
	require.NoError(t, err)
	v, err := secrets.Decrypt(data, ids)
	require.NoError(t, err)
	assert.Equal(t, "global-value", string(v))

	r = run(t, nil, "secrets", "rm", "KEY", "--app", "shop", "--dir", dir)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.NoFileExists(t, filepath.Join(dir, "apps", "shop", "secrets", "KEY.age"))
}

func TestPlanExitCodes(t *testing.T) {
	dir := t.TempDir()
	gitserver.Git(t, dir, "init", "-q", "-b", "main")
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	commit := func(msg string) {
		gitserver.Git(t, dir, "add", "-A")
		gitserver.Git(t, dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", msg)
	}
	write("apps/shop/web.yaml", "source:\n  type: image\n  image: nginx:1\n  deploy_strategy: recreate\n")
	commit("base")
	gitserver.Git(t, dir, "branch", "base")
	write("README.md", "docs\n")
	commit("docs only")

	tests := []struct {
		name   string
		setup  func()
		args   []string
		code   int
		stdout string
	}{
		{"no change", nil, []string{"plan", "--base", "base", dir}, 0, "no changes"},
		{"change", func() {
			write("apps/shop/web.yaml", "source:\n  type: image\n  image: nginx:1\n")
			commit("to blue-green")
		}, []string{"plan", "--base", "base", "--format", "markdown", dir}, 1, "| `shop/web` | recreate (explicit) | blue-green (default) |"},
		{"missing base", nil, []string{"plan", "--base", "nope", dir}, 2, ""},
		{"invalid head", func() {
			write("apps/shop/web.yaml", "source:\n  type: image\n  image: nginx:1\n  deploy_strategy: bluegreen\n")
			commit("broken")
		}, []string{"plan", "--base", "base", dir}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			r := run(t, nil, tc.args...)
			assert.Equal(t, tc.code, r.code, r.stdout+r.stderr)
			assert.Contains(t, r.stdout, tc.stdout)
		})
	}
}

// TestSyncWithRelativeStateDir: the default state dir is relative
// (./.berth); paths handed to docker compose must still resolve.
func TestSyncWithRelativeStateDir(t *testing.T) {
	dockertest.Docker(t)
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("docker compose is required in CI")
		}
		t.Skip("no docker compose plugin")
	}
	img := dockertest.Image(t, "cli")
	name := dockertest.AgentName(t)
	app := "c" + name[2:]
	project := "berth-" + app + "_stack"
	t.Cleanup(func() { _ = exec.Command("docker", "compose", "-p", project, "down").Run() })
	src := gitserver.Start(t).NewRepo(t, "config")
	src.Write("apps/"+app+"/stack/compose.yml", "services:\n  echo:\n    image: "+img+"\n")
	src.Write("apps/"+app+"/stack.yaml", "source:\n  type: compose\n  file: stack/compose.yml\n").Push("a stack")
	work := t.TempDir()
	cmd := exec.Command(agenttest.Berth(t), "sync", "--repo", src.URL, "--state-dir", ".berth", "--agent-name", name, "--status-branch", "")
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.DirExists(t, filepath.Join(work, ".berth", "repo"))
}
