package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
)

// berthCLI runs the static berth binary with stdin.
func berthCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(agenttest.Berth(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "berth %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// envOf reads a container's env through the hello server's /env.
func envOf(t *testing.T, upstream string) map[string]string {
	t.Helper()
	agenttest.Get(t, upstream)
	code, body, _ := httpGet(t, "http://"+upstream+"/env")
	require.Equal(t, 200, code)
	var env map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &env))
	return env
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSharedSecretsLayeringRotationAndNoLeaks(t *testing.T) {
	h := newHarness(t)
	img := dockertest.Image(t, "env", "ENV FLAVOUR=image")
	const canary = "CANARY-9f3e1c-do-not-leak"
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	other := h.App + "b"

	dir := h.Repo.Dir
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+rcpt+"]\n")
	envWorkload := func(extra string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  SHOW_ENV: \"1\"\n%sport: 8080\n", img, extra)
	}
	h.Workload("web", envWorkload("  Y: w\n"))
	h.Workload("pinned", envWorkload("  X: workload\n"))
	h.Repo.Write(fmt.Sprintf("apps/%s/web.yaml", other), envWorkload(""))
	berthCLI(t, "global-x\n", "secrets", "set", "X", "--dir", dir)
	berthCLI(t, "secret-flavour", "secrets", "set", "FLAVOUR", "--dir", dir)
	berthCLI(t, "app-x", "secrets", "set", "X", "--app", h.App, "--dir", dir)
	berthCLI(t, canary, "secrets", "set", "API_KEY", "--app", h.App, "--dir", dir)
	assert.NotContains(t, berthCLI(t, "", "secrets", "ls", "--dir", dir), canary)
	h.Repo.Push("secrets")

	red := secrets.NewRedactor()
	var logs lockedBuffer
	h.Log = slog.New(secrets.Handler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}), red))
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	opts := agent.Options{Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red}
	a, st := h.Agent(opts)
	_, err = a.Tick(context.Background())
	require.NoError(t, err)

	rows := agenttest.Rows(t, st)
	web := envOf(t, rows[h.ID("web")].Upstream)
	assert.Equal(t, "app-x", web["X"], "app shared beats global shared")
	assert.Equal(t, canary, web["API_KEY"])
	assert.Equal(t, "image", web["FLAVOUR"], "the image's own ENV beats shared secrets")
	assert.Equal(t, "w", web["Y"])
	assert.Equal(t, "workload", envOf(t, rows[h.ID("pinned")].Upstream)["X"], "workload env beats everything")
	otherEnv := envOf(t, rows[other+"/web"].Upstream)
	assert.Equal(t, "global-x", otherEnv["X"], "trailing newline dropped; global applies to every app")
	assert.NotContains(t, otherEnv, "API_KEY", "app secrets stay in their app")

	// Rotating an app secret redeploys that app's workloads only.
	before := h.Containers()
	berthCLI(t, canary+"-2", "secrets", "set", "API_KEY", "--app", h.App, "--dir", dir)
	h.Repo.Push("rotate API_KEY")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("pinned"), h.ID("web")}, res.Deployed)
	assert.Equal(t, before[other+"/web"][0].ID, h.Containers()[other+"/web"][0].ID)
	assert.Equal(t, canary+"-2", envOf(t, agenttest.Rows(t, st)[h.ID("web")].Upstream)["API_KEY"])

	// A corrupt secret is a warning naming it; nothing fails.
	h.Repo.Write("secrets/BROKEN.age", "age-encryption.org/v1\n-> X25519 garbage\n")
	h.Repo.Push("a corrupt secret")
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	warns, err := st.Events(context.Background(), store.EventFilter{Severity: store.SeverityWarn, Limit: 100})
	require.NoError(t, err)
	require.NotEmpty(t, warns)
	assert.Contains(t, warns[0].Message, "BROKEN (global)")

	// The API lists names and whether they decrypt, never values.
	rec := httptest.NewRecorder()
	agenttest.API(a, st).ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/api/shared-secrets", nil))
	require.Equal(t, 200, rec.Code)
	assert.NotContains(t, rec.Body.String(), canary)
	var listed []agent.SharedSecret
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &listed))
	has := map[string]bool{}
	for _, s := range listed {
		has[s.Scope+"/"+s.App+"/"+s.Name] = s.HasValue
	}
	assert.Equal(t, map[string]bool{"global//BROKEN": false, "global//FLAVOUR": true, "global//X": true, "app/" + h.App + "/API_KEY": true, "app/" + h.App + "/X": true}, has)

	// The canary is nowhere: state dir, logs, events, rows, the remote.
	err = filepath.WalkDir(h.StateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assert.NotContains(t, string(b), canary, "state dir file %s", p)
		return nil
	})
	require.NoError(t, err)
	assert.NotContains(t, logs.String(), canary)
	evs, err := st.Events(context.Background(), store.EventFilter{Limit: 1000})
	require.NoError(t, err)
	b, _ := json.Marshal(evs)
	assert.NotContains(t, string(b), canary)
	all, err := st.ListRuntime(context.Background())
	require.NoError(t, err)
	b, _ = json.Marshal(all)
	assert.NotContains(t, string(b), canary)
	history := gitserver.Git(t, h.Repo.Dir, "log", "--all", "-p", "--no-color")
	assert.NotContains(t, history, canary)
	assert.Contains(t, history, "BEGIN AGE ENCRYPTED FILE", "the remote holds ciphertext")
}

func TestSecretsWithoutIdentityAndOnErrorFail(t *testing.T) {
	h := newHarness(t)
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+rcpt+"]\n")
	h.Workload("web", agenttest.Web(h.Image, "web"))
	berthCLI(t, "value-1234", "secrets", "set", "TOKEN", "--dir", h.Repo.Dir)
	h.Repo.Push("a secret, no identity on the agent")
	a, st := h.Agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err, "a missing identity never fails a deploy")
	warns, err := st.Events(context.Background(), store.EventFilter{Severity: store.SeverityWarn})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].Message, "TOKEN (global)")
	assert.Contains(t, warns[0].Message, "no age identity")

	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+rcpt+"]\n  on_error: fail\n")
	h.Workload("web", agenttest.Web(h.Image, "web v2"))
	h.Repo.Push("fail instead")
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("web")}, res.Failed)
	evs := agenttest.Events(t, st, h.ID("web"))
	assert.Contains(t, evs[len(evs)-1].Message, "TOKEN (global) could not be used")
}
