package agent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/testkit/agenttest"
)

func requireCompose(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("docker compose is required in CI (scripts/compose-plugin builds it)")
		}
		t.Skip("no docker compose plugin (run scripts/compose-plugin)")
	}
}

func TestComposeStack(t *testing.T) {
	requireCompose(t)
	h := newHarness(t)
	project := "berth-" + h.App + "_stack"
	t.Cleanup(func() { _ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans").Run() })
	composeFile := fmt.Sprintf("services:\n  web:\n    image: %s\n    environment:\n      MESSAGE: ${GREETING}\n    ports: [\"127.0.0.1::8080\"]\n", h.Image)
	h.Repo.Write("apps/"+h.App+"/stack/compose.yml", composeFile)
	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\nenv:\n  GREETING: hello from compose\n")
	h.Repo.Push("a stack")
	a, st := h.Agent(agent.Options{})
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("stack")}, res.Deployed)
	cs := h.Containers()[h.ID("stack")]
	require.Len(t, cs, 1, "the stack's container carries Berth's labels, so the one snapshot sees it")
	assert.Contains(t, agenttest.Get(t, fmt.Sprintf("127.0.0.1:%d", cs[0].HostPort)), "hello from compose", "env is interpolated")
	row := agenttest.Rows(t, st)[h.ID("stack")]
	assert.Equal(t, "compose", row.Kind)
	assert.Equal(t, project, row.ContainerName)
	assert.Equal(t, "stack-managed (default)", row.Strategy)
	ev := agenttest.Events(t, st, h.ID("stack"))
	assert.Equal(t, string(agent.KindDeploySucceeded), ev[len(ev)-1].Kind)
	assert.Equal(t, "compose", ev[len(ev)-1].Metadata["kind"])

	// Idle: nothing drifts, nothing is redeployed.
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.True(t, res.NoOp)
	assert.Equal(t, cs[0].ID, h.Containers()[h.ID("stack")][0].ID)

	// A change redeploys with compose.
	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\n  deploy_strategy: recreate\nenv:\n  GREETING: second\n")
	h.Repo.Push("second")
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	cs = h.Containers()[h.ID("stack")]
	require.Len(t, cs, 1)
	assert.Contains(t, agenttest.Get(t, fmt.Sprintf("127.0.0.1:%d", cs[0].HostPort)), "second")
	assert.Equal(t, "recreate (explicit)", agenttest.Rows(t, st)[h.ID("stack")].Strategy)

	// Removing the file runs compose down.
	h.Repo.Remove("apps/" + h.App + "/stack.yaml")
	h.Workload("keep", agenttest.Web(h.Image, "keep"))
	h.Repo.Push("remove the stack")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("stack")}, res.Pruned)
	assert.Empty(t, h.Containers()[h.ID("stack")])
	out, _ := exec.Command("docker", "network", "ls", "--filter", "name="+project, "-q").Output()
	assert.Empty(t, strings.TrimSpace(string(out)), "compose down removed the stack's network")
}

// TestComposeFailureKeepsOutputOffEvents: docker compose echoes what it
// was given (here a secret-looking value used as an image name); the
// event and the status carry a generic reason only.
func TestComposeFailureKeepsOutputOffEvents(t *testing.T) {
	requireCompose(t)
	h := newHarness(t)
	project := "berth-" + h.App + "_bad"
	t.Cleanup(func() { _ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans").Run() })
	const canary = "CaNaRy-SeCrEt-4711"
	h.Repo.Write("apps/"+h.App+"/bad/compose.yml", "services:\n  web:\n    image: ${IMAGE}\n")
	h.Workload("bad", "source:\n  type: compose\n  file: bad/compose.yml\nenv:\n  IMAGE: "+canary+"\n")
	h.Workload("good", agenttest.Web(h.Image, "good"))
	h.Repo.Push("a stack that fails")
	a, st := h.Agent(agent.Options{})
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("bad")}, res.Failed)
	assert.Equal(t, []string{h.ID("good")}, res.Deployed)
	assert.Contains(t, err.Error(), h.ID("bad"))

	evs, err := st.Events(context.Background(), store.EventFilter{Limit: 1000})
	require.NoError(t, err)
	for _, e := range evs {
		assert.NotContains(t, e.Message, canary)
		for _, v := range e.Metadata {
			assert.NotContains(t, v, canary)
		}
	}
	row := agenttest.Rows(t, st)[h.ID("bad")]
	assert.Equal(t, store.DeployFailed, row.LastDeploy)
	assert.Contains(t, row.Message, "docker compose up failed (exit status")
	assert.NotContains(t, row.Message, canary)
}

// TestComposeFailureReupsTheLastGood: a compose deploy whose service does
// not stay up brings the last good project up again, from the copy kept in
// the state dir: the previous version serves, and the event says so.
func TestComposeFailureReupsTheLastGood(t *testing.T) {
	requireCompose(t)
	h := newHarness(t)
	project := "berth-" + h.App + "_stack"
	t.Cleanup(func() { _ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans").Run() })
	stack := func(extra string) string {
		return fmt.Sprintf("services:\n  web:\n    image: %s\n    environment:\n      MESSAGE: ${GREETING}\n%s    ports: [\"127.0.0.1::8080\"]\n", h.Image, extra)
	}
	h.Repo.Write("apps/"+h.App+"/stack/compose.yml", stack(""))
	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\nenv:\n  GREETING: good v1\n")
	a, st := h.Start("v1", agent.Options{})
	good := agenttest.Rows(t, st)[h.ID("stack")]

	h.Repo.Write("apps/"+h.App+"/stack/compose.yml", stack("      EXIT_AFTER: 10ms\n"))
	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\nenv:\n  GREETING: bad v2\n")
	h.Repo.Push("v2 exits at once")
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("stack")}, res.Failed)
	cs := h.Containers()[h.ID("stack")]
	require.Len(t, cs, 1)
	assert.True(t, cs[0].Running())
	assert.Equal(t, good.AppliedHash, cs[0].Hash(), "the container is the last good release's")
	assert.Contains(t, agenttest.Get(t, fmt.Sprintf("127.0.0.1:%d", cs[0].HostPort)), "good v1")
	row := agenttest.Rows(t, st)[h.ID("stack")]
	assert.Equal(t, store.DeployRolledBack, row.LastDeploy)
	assert.Equal(t, good.Commit, row.Commit)
	evs := agenttest.Events(t, st, h.ID("stack"))
	assert.Equal(t, string(agent.KindDeployRolledBack), evs[len(evs)-1].Kind)
	assert.Contains(t, evs[len(evs)-1].Message, "docker compose up failed")
}

// TestComposeRenderedPolicy: what the compose file hides behind
// interpolation (privileged: ${PRIV}) the rendered project shows; the
// deploy is refused before anything starts, naming the --allow word.
func TestComposeRenderedPolicy(t *testing.T) {
	requireCompose(t)
	h := newHarness(t)
	project := "berth-" + h.App + "_stack"
	t.Cleanup(func() { _ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans").Run() })
	h.Repo.Write("apps/"+h.App+"/stack/compose.yml", fmt.Sprintf("services:\n  web:\n    image: %s\n    privileged: ${PRIV}\n", h.Image))
	h.Workload("stack", "source:\n  type: compose\n  file: stack/compose.yml\nenv:\n  PRIV: \"true\"\n")
	h.Repo.Push("privileged through a variable")
	a, st := h.Agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Empty(t, h.Containers()[h.ID("stack")], "nothing started")
	row := agenttest.Rows(t, st)[h.ID("stack")]
	assert.Contains(t, row.Message, "services.web.privileged: privileged: true needs --allow privileged")
}
