package agent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
)

// requireSwarm makes this Docker host a single-node Swarm manager for the
// test (on 127.0.0.1: no ingress ports are published) and leaves the swarm
// when the test ends, if it was not in one before.
func requireSwarm(t *testing.T) {
	t.Helper()
	dockertest.Docker(t) // skips without a daemon (fails in CI)
	requireCompose(t)
	out, err := exec.Command("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").Output()
	require.NoError(t, err)
	if strings.TrimSpace(string(out)) == "active" {
		return
	}
	// swarm init also makes the docker_gwbridge network; it goes too,
	// unless it was here before.
	hadBridge := exec.Command("docker", "network", "inspect", "docker_gwbridge").Run() == nil
	if out, err := exec.Command("docker", "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("docker swarm init: %v\n%s", err, out)
		}
		t.Skipf("no single-node swarm here: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "swarm", "leave", "--force").CombinedOutput(); err != nil {
			t.Errorf("docker swarm leave: %v\n%s", err, out)
		}
		if !hadBridge {
			// The bridge's last endpoints (the ingress sandbox, a task
			// being removed) may linger a moment after the swarm is left.
			var out []byte
			var err error
			for range 20 { // bounded: 10 s
				if out, err = exec.Command("docker", "network", "rm", "docker_gwbridge").CombinedOutput(); err == nil {
					break
				}
				// dockerd 20.10 can keep the ingress sandbox's endpoint
				// after a quick init and leave: it is stale, force it off.
				_ = exec.Command("docker", "network", "disconnect", "-f", "docker_gwbridge", "gateway_ingress-sbox").Run()
				time.Sleep(500 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("removing docker_gwbridge: %v\n%s", err, out)
			}
		}
	})
}

// removeStack removes a stack and waits (bounded) until its containers
// are gone.
func removeStack(t *testing.T, stack string) {
	_ = exec.Command("docker", "stack", "rm", stack).Run()
	for range 60 {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.stack.namespace="+stack).Output()
		if strings.TrimSpace(string(out)) == "" {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("stack %s still has containers", stack)
}

const stackFile = `services:
  web:
    image: %s
    environment:
      MESSAGE: ${GREETING}
      EXIT_AFTER: ${EXIT_AFTER:-}
    deploy:
      replicas: 2
      update_config: {parallelism: 1, order: start-first, failure_action: %s, monitor: 3s}
      rollback_config: {parallelism: 2, monitor: 1s}
      restart_policy: {condition: on-failure, delay: 1s}
`

// A stack with two replicas deploys to a real single-node swarm; an env
// change rolls out to both; an update Swarm rolls back is a failure in
// events, the runtime row and the status branch, and the old tasks serve
// on; removing the file removes the stack.
func TestSwarmStackRollsOutAndReportsRollbackAsFailure(t *testing.T) {
	requireSwarm(t)
	h := newHarness(t)
	stack := "berth-" + h.App + "_shop"
	t.Cleanup(func() { removeStack(t, stack) })
	h.Repo.Write("apps/"+h.App+"/shop/compose.yml", fmt.Sprintf(stackFile, h.Image, "rollback"))
	spec := func(env string) string { return "source:\n  type: stack\n  file: shop/compose.yml\nenv:\n" + env }
	h.Workload("shop", spec("  GREETING: v1\n"))
	h.Repo.Push("a stack")
	sw, err := gitops.NewStatusWriter(h.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{})
	require.NoError(t, err)
	a, st := h.Agent(agent.Options{Status: sw})
	ctx := context.Background()
	id := h.ID("shop")
	// running lists the commits of the running tasks once they settle at
	// two (an old task may still be stopping when Swarm calls the update
	// complete).
	running := func() (commits []string) {
		t.Helper()
		for range 40 {
			commits = nil
			for _, c := range h.Containers()[id] {
				if c.Running() {
					commits = append(commits, c.Labels["berth.commit"][:7])
				}
			}
			if len(commits) == 2 {
				return commits
			}
			time.Sleep(500 * time.Millisecond)
		}
		return commits
	}

	res, err := a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed, "failed: %v", res.Failed)
	first := agenttest.Rows(t, st)[id].Commit[:7]
	assert.Equal(t, []string{first, first}, running(), "two replicas, labelled so the one snapshot sees the tasks")
	row := agenttest.Rows(t, st)[id]
	assert.Equal(t, "stack", row.Kind)
	assert.Equal(t, stack, row.ContainerName)
	assert.Equal(t, "stack-managed (default)", row.Strategy)

	// Idle: nothing to do.
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.True(t, res.NoOp)

	// An env change rolls out to both replicas.
	h.Workload("shop", spec("  GREETING: v2\n"))
	second := h.Repo.Push("v2")[:7]
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed, "failed: %v", res.Failed)
	assert.Equal(t, []string{second, second}, running())

	// A version that exits a second after it starts: Swarm's monitor sees
	// the task fail and rolls the update back. That is a failure.
	h.Workload("shop", spec("  GREETING: v3\n  EXIT_AFTER: 1s\n"))
	h.Repo.Push("v3 crashes")
	res, err = a.Tick(ctx)
	require.Error(t, err)
	assert.Empty(t, res.Deployed)
	assert.Equal(t, []string{id}, res.Failed)
	ev := agenttest.Events(t, st, id)
	last := ev[len(ev)-1]
	assert.Equal(t, string(agent.KindDeployRolledBack), last.Kind)
	assert.Contains(t, last.Message, "Swarm rolled back")
	row = agenttest.Rows(t, st)[id]
	assert.Equal(t, store.DeployRolledBack, row.LastDeploy)
	assert.Equal(t, second, row.Commit[:7], "v2 serves")
	assert.Equal(t, []string{second, second}, running(), "the old tasks serve on")
	rep, err := gitops.ReadStatus(statusClone(t, h.Repo.URL), "origin/berth/status", h.Name)
	require.NoError(t, err)
	assert.Equal(t, "degraded", rep.Workloads[id].State, "the status branch says it failed, never running")

	// Swarm's default failure action pauses the update half done: Berth
	// asks Swarm to roll it back, and reports the failure the same way.
	h.Repo.Write("apps/"+h.App+"/shop/compose.yml", fmt.Sprintf(stackFile, h.Image, "pause"))
	h.Workload("shop", spec("  GREETING: v4\n  EXIT_AFTER: 1s\n"))
	h.Repo.Push("v4 crashes, and Swarm pauses")
	res, err = a.Tick(ctx)
	require.Error(t, err)
	assert.Equal(t, []string{id}, res.Failed)
	ev = agenttest.Events(t, st, id)
	assert.Equal(t, string(agent.KindDeployRolledBack), ev[len(ev)-1].Kind, ev[len(ev)-1].Message)
	assert.Contains(t, ev[len(ev)-1].Message, "Swarm paused the update of "+stack+"_web and Berth asked for a rollback")
	assert.Equal(t, []string{second, second}, running(), "v2 serves again")

	// A stack Berth did not make is refused, not taken over: --prune
	// would remove its services.
	foreign := "berth-" + h.App + "-foreign"
	t.Cleanup(func() { removeStack(t, foreign) })
	foreignFile := filepath.Join(t.TempDir(), "compose.yml")
	require.NoError(t, os.WriteFile(foreignFile, []byte(fmt.Sprintf(stackFile, h.Image, "rollback")), 0o644))
	out, err := exec.Command("docker", "stack", "deploy", "-c", foreignFile, foreign).CombinedOutput()
	require.NoError(t, err, "%s", out)
	h.Workload("grab", "source:\n  type: stack\n  file: shop/compose.yml\n  stack: "+foreign+"\nenv:\n  GREETING: mine\n")
	h.Repo.Push("a workload naming someone else's stack")
	res, err = a.Tick(ctx)
	require.Error(t, err)
	assert.Equal(t, []string{h.ID("grab")}, res.Failed)
	ev = agenttest.Events(t, st, h.ID("grab"))
	assert.Contains(t, ev[len(ev)-1].Message, "has services Berth does not own")

	// Removing the files removes Berth's stack, and only Berth's.
	h.Repo.Remove("apps/" + h.App + "/grab.yaml")
	h.Repo.Remove("apps/" + h.App + "/shop.yaml")
	h.Workload("keep", agenttest.Web(h.Image, "keep"))
	h.Repo.Push("remove the stack")
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("grab"), id}, res.Pruned)
	out, _ = exec.Command("docker", "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+stack).Output()
	assert.Empty(t, strings.TrimSpace(string(out)), "docker stack rm removed the services")
	out, _ = exec.Command("docker", "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+foreign).Output()
	assert.NotEmpty(t, strings.TrimSpace(string(out)), "the stack Berth does not own is still there")
}

// statusClone clones the config repo (with its status branch) to read
// status.json as a person would.
func statusClone(t *testing.T, url string) string {
	dir := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", url, dir)
	return dir
}

// The service specs Swarm gets are the ones checked: a spec the policy
// refuses (here a bind of host /etc, asked for in the rendered document
// itself, past any file check) changes no service — neither a new one
// nor a running one — and an allowed one runs.
func TestStackServiceSpecsAreCheckedBeforeSwarmGetsThem(t *testing.T) {
	requireSwarm(t)
	h := newHarness(t)
	d := dockertest.Docker(t)
	stack := "berth-" + h.App + "_specs"
	t.Cleanup(func() { removeStack(t, stack) })
	dir := t.TempDir()
	ctx := context.Background()
	check := func(pol policy.Policy) docker.ServiceCheck {
		return func(specs map[string]swarm.ServiceSpec) error {
			var vs []policy.Violation
			for _, s := range specs {
				vs = append(vs, pol.Service(s, policy.ServiceScope{Release: dir, Stack: stack})...)
			}
			return policy.Refusal(vs)
		}
	}
	good := fmt.Sprintf("services:\n  web:\n    image: %s\n    environment: {MESSAGE: v1}\n", h.Image)
	evil := fmt.Sprintf("services:\n  web:\n    image: %s\n    environment: {MESSAGE: v2}\n    volumes: [\"/etc:/host\"]\n", h.Image)

	err := d.DeployStack(ctx, stack, dir, []byte(evil), check(policy.Policy{}))
	require.ErrorIs(t, err, docker.ErrServicesRefused)
	assert.ErrorContains(t, err, "bind mount of /etc")
	svcs, err := d.StackServices(ctx, stack)
	require.NoError(t, err)
	assert.Empty(t, svcs, "no service was created")

	require.NoError(t, d.DeployStack(ctx, stack, dir, []byte(good), check(policy.Policy{})))
	svcs, err = d.StackServices(ctx, stack)
	require.NoError(t, err)
	require.Len(t, svcs, 1)
	// What the service runs, as Swarm holds it (its version moves by
	// itself after a create, so the spec is compared, not the version).
	containerSpec := func() string {
		out, err := exec.Command("docker", "service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec}}", svcs[0].Name).Output()
		require.NoError(t, err)
		return string(out)
	}
	before := containerSpec()
	assert.Contains(t, before, "MESSAGE=v1")

	err = d.DeployStack(ctx, stack, dir, []byte(evil), check(policy.Policy{}))
	require.ErrorIs(t, err, docker.ErrServicesRefused)
	assert.Equal(t, before, containerSpec(), "the running service was not updated")

	// The operator's word lets the same document through.
	require.NoError(t, d.DeployStack(ctx, stack, dir, []byte(evil), check(policy.Policy{policy.HostMounts: true})))
	after := containerSpec()
	assert.Contains(t, after, "MESSAGE=v2")
	assert.Contains(t, after, `"Source":"/etc"`)
}
