package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
)

// before_deploy on a real dockerd, through the embedded proxy under load:
// a failing migration leaves the old version serving with 0 failed
// requests and is not run again by itself; a passing one runs exactly
// once, with the new version's env, before the swap; a shared secret it
// prints is redacted in its kept output and reaches no event or log.
func TestBeforeDeployRunsOnceBeforeTheSwap(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	const canary = "CANARY-7d1b2a-do-not-leak"
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+rcpt+"]\n")
	web := func(msg, task string) string {
		return agenttest.Routed(h.Image, host, msg, "blue-green") + task
	}
	h.Workload("web", web("v1", ""))
	berthCLI(t, canary, "secrets", "set", "DB_PASSWORD", "--app", h.App, "--dir", h.Repo.Dir)
	h.Repo.Push("v1")

	red := secrets.NewRedactor()
	var logs lockedBuffer
	h.Log = slog.New(secrets.Handler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}), red))
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	clk := newClock()
	a, st := h.Agent(agent.Options{Router: rt, Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red,
		Now: clk.Now})
	ctx := context.Background()
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	requireServes(t, h, st, proxy, host, "v1")
	runs := func() []store.Run {
		rs, err := st.Runs(ctx, h.ID("web"), 0)
		require.NoError(t, err)
		return rs
	}

	// A failing migration: exit 3.
	h.Workload("web", web("v2", "before_deploy:\n  command: [task, \"3\", \"0\", MESSAGE]\n  timeout: 1m\n"))
	h.Repo.Push("v2 with a failing migration")
	l := agenttest.StartLoad(proxy, host)
	_, err = a.Tick(ctx)
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	failed, _, _ := l.Stats()
	assert.Zero(t, failed, "nothing of v1 was touched")
	requireServes(t, h, st, proxy, host, "v1")
	ev := agenttest.Events(t, st, h.ID("web"))
	last := ev[len(ev)-1]
	assert.Equal(t, string(agent.KindDeployFailed), last.Kind)
	assert.True(t, strings.HasPrefix(last.Message, "before_deploy failed: exit 3"), last.Message)
	rs := runs()
	require.Len(t, rs, 1)
	assert.Equal(t, 3, rs[0].ExitCode)
	assert.Equal(t, store.TriggerDeploy, rs[0].Trigger)
	assert.Contains(t, rs[0].OutputTail, "MESSAGE=v2", "the task ran with the new version's env")
	for range 5 { // later ticks: the failed migration is not run again
		clk.Add(10 * time.Minute)
		_, err := a.Tick(ctx)
		require.NoError(t, err)
	}
	assert.Len(t, runs(), 1)

	// A passing one: exactly once, then the swap.
	h.Workload("web", web("v3", "before_deploy:\n  command: [task, \"0\", \"0\", MESSAGE, DB_PASSWORD]\n"))
	h.Repo.Push("v3 with a passing migration")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	requireServes(t, h, st, proxy, host, "v3")
	rs = runs()
	require.Len(t, rs, 2)
	assert.Equal(t, 0, rs[0].ExitCode)
	assert.Contains(t, rs[0].OutputTail, "MESSAGE=v3")
	assert.Contains(t, rs[0].OutputTail, "DB_PASSWORD=", "the task saw the shared secret")
	assert.NotContains(t, rs[0].OutputTail, canary, "the kept output is redacted")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Len(t, runs(), 2, "once per desired version")

	for _, e := range agenttest.Events(t, st, "") {
		assert.NotContains(t, e.Message, canary)
	}
	assert.NotContains(t, logs.String(), canary)
}

// A compose workload's before_deploy runs as its service (docker compose
// run, the new project, no dependency started): a failure keeps the old
// project running untouched; a success runs once and the new project
// comes up. Validate names a service the file does not have.
func TestComposeBeforeDeploy(t *testing.T) {
	requireCompose(t)
	h := newHarness(t)
	project := "berth-" + h.App + "_stack"
	t.Cleanup(func() { _ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans").Run() })
	file := func(msg string) string {
		return fmt.Sprintf("services:\n  web:\n    image: %s\n    environment:\n      MESSAGE: %s\n    ports: [\"127.0.0.1::8080\"]\n", h.Image, msg)
	}
	h.Repo.Write("apps/"+h.App+"/stack/compose.yml", file("v1"))
	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\n")
	a, st := h.Start("v1", agent.Options{})
	ctx := context.Background()
	id := h.ID("stack")
	before := h.Containers()[id]
	require.Len(t, before, 1)

	task := func(code string) string {
		return "source:\n  type: compose\n  file: stack/compose.yml\nbefore_deploy:\n  service: web\n  command: [task, \"" + code + "\", \"0\", MESSAGE]\n"
	}
	h.Repo.Write("apps/"+h.App+"/stack/compose.yml", file("v2"))
	h.Workload("stack", task("5"))
	h.Repo.Push("v2, its migration fails")
	_, err := a.Tick(ctx)
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	after := h.Containers()[id]
	require.Len(t, after, 1, "no task container is left, and the project is as it was")
	assert.Equal(t, before[0].ID, after[0].ID)
	assert.True(t, after[0].Running())
	ev := agenttest.Events(t, st, id)
	assert.True(t, strings.HasPrefix(ev[len(ev)-1].Message, "before_deploy failed: exit 5"), ev[len(ev)-1].Message)
	rs, err := st.Runs(ctx, id, 0)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Contains(t, rs[0].OutputTail, "MESSAGE=v2", "it ran with the new project's settings")

	h.Workload("stack", task("0"))
	h.Repo.Push("v2, its migration passes")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	cs := h.Containers()[id]
	require.Len(t, cs, 1)
	assert.NotEqual(t, before[0].ID, cs[0].ID, "the new project came up")
	assert.Contains(t, agenttest.Get(t, fmt.Sprintf("127.0.0.1:%d", cs[0].HostPort)), "v2")
	rs, err = st.Runs(ctx, id, 0)
	require.NoError(t, err)
	assert.Len(t, rs, 2)
	assert.Equal(t, 0, rs[0].ExitCode)

	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\nbefore_deploy:\n  service: worker\n  command: [task]\n")
	h.Repo.Push("a service the file does not have")
	_, err = a.Tick(ctx)
	require.Error(t, err)
	ev = agenttest.Events(t, st, id)
	assert.Contains(t, ev[len(ev)-1].Message, `no service "worker"`)
}
