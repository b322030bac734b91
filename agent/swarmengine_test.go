package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/loopback"
)

// swarmOptions runs the agent with --engine swarm.
func swarmOptions(h *agenttest.Harness, rt *router.Router) agent.Options {
	return agent.Options{Router: rt, Engine: engine.Options{Services: &engine.Services{API: h.Docker, Poll: 100 * time.Millisecond}}}
}

// removeService removes a service and waits (bounded) until its tasks'
// containers are gone.
func removeService(t *testing.T, name string) {
	_ = exec.Command("docker", "service", "rm", name).Run()
	for range 60 {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.swarm.service.name="+name).Output()
		if strings.TrimSpace(string(out)) == "" {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("service %s still has containers", name)
}

// serviceTasks lists the running task containers of a service.
func serviceTasks(t *testing.T, name string) []string {
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+name).Output()
	require.NoError(t, err)
	return strings.Fields(string(out))
}

// An image workload with three replicas under --engine swarm: deployed as
// a service the proxy spreads over, rolled to a new version under load
// with no failed request, a version that never gets ready rolled back by
// Swarm while the old one serves, a task killed by hand reported and
// healed, and the service removed with its file.
func TestSwarmEngineRollsReplicasUnderLoad(t *testing.T) {
	requireSwarm(t)
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	id, svc := h.ID("web"), "berth_"+h.App+"_web"
	t.Cleanup(func() { removeService(t, svc); removeService(t, "berth_"+h.App+"_keep") })
	web := func(msg string, env ...string) string {
		return agenttest.Routed(h.Image, host, msg, "", env...) + "replicas: 3\n"
	}
	h.Workload("web", web("v1"))
	h.Repo.Push("v1")
	a, st := h.Agent(swarmOptions(h, rt))
	ctx := context.Background()
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed, "failed: %v", res.Failed)
	row := agenttest.Rows(t, st)[id]
	assert.Equal(t, svc, row.ContainerName)
	assert.Empty(t, h.Containers()[id], "no container of the agent's own: Swarm runs the tasks")
	assert.Len(t, serviceTasks(t, svc), 3)
	r, _ := rt.Get(id)
	assert.Len(t, r.Addrs(), 3, "the route spreads over the three tasks: %s", r.Upstream)
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "v1")

	// Idle: a tick reads the tasks and changes nothing.
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.True(t, res.NoOp)
	assert.Equal(t, store.StatusRunning, agenttest.Rows(t, st)[id].Status)

	// A start-first rolling update under load.
	l := agenttest.StartLoad(proxy, host)
	h.Workload("web", web("v2"))
	h.Repo.Push("v2")
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed, "failed: %v", res.Failed)
	time.Sleep(300 * time.Millisecond)

	// A version that never gets ready: Berth's gate fails its first task,
	// Swarm rolls the service back, the old tasks serve throughout.
	h.Workload("web", web("v3", "NEVER_READY: \"1\""))
	h.Repo.Push("v3 never ready")
	res, err = a.Tick(ctx)
	require.Error(t, err)
	assert.Equal(t, []string{id}, res.Failed)
	time.Sleep(300 * time.Millisecond)
	l.Finish()
	assert.Zero(t, l.Failed.Load(), "failed requests during a rolling update and a rollback (first: %v)", l.FirstError())
	assert.Greater(t, l.OK.Load(), int64(100))
	ev := agenttest.Events(t, st, id)
	last := ev[len(ev)-1]
	assert.Equal(t, string(agent.KindDeployRolledBack), last.Kind, last.Message)
	assert.Contains(t, last.Message, "did not answer 2xx")
	row = agenttest.Rows(t, st)[id]
	assert.Equal(t, store.DeployRolledBack, row.LastDeploy)
	for range 20 {
		body, err = loopback.Get(http.DefaultClient, proxy, host)
		require.NoError(t, err)
		require.Contains(t, body, "v2", "the old version serves")
	}

	// A task killed by hand: reported on the next tick, healed by Swarm.
	tasks := serviceTasks(t, svc)
	require.NotEmpty(t, tasks)
	require.NoError(t, exec.Command("docker", "kill", tasks[0]).Run())
	var failed bool
	for range 40 { // bounded: 20 s
		_, _ = a.Tick(ctx)
		for _, e := range agenttest.Events(t, st, id) {
			failed = failed || e.Kind == string(agent.KindTaskFailed)
		}
		if failed && agenttest.Rows(t, st)[id].Status == store.StatusRunning && len(serviceTasks(t, svc)) == 3 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	assert.True(t, failed, "the killed task is reported")
	assert.Equal(t, store.StatusRunning, agenttest.Rows(t, st)[id].Status, "healed")
	r, _ = rt.Get(id)
	assert.Len(t, r.Addrs(), 3, "the route follows the new task: %s", r.Upstream)

	// berth rollback re-applies v1's recorded spec: Swarm rolls to it.
	_, err = a.Rollback(ctx, id, "")
	require.NoError(t, err)
	for range 10 {
		body, err = loopback.Get(http.DefaultClient, proxy, host)
		require.NoError(t, err)
		require.Contains(t, body, "v1", "the previous release serves")
	}

	// The file goes: the service goes.
	h.Repo.Remove("apps/" + h.App + "/web.yaml")
	h.Workload("keep", "source:\n  type: image\n  image: "+h.Image+"\n")
	h.Repo.Push("web removed")
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Contains(t, res.Pruned, id)
	out, _ := exec.Command("docker", "service", "ls", "-q", "--filter", "name="+svc).Output()
	assert.Empty(t, strings.TrimSpace(string(out)), "the service is removed")
}

// Constraints place the tasks by node label; a constraint no node meets
// fails the deploy with Swarm's reason instead of waiting forever. A
// dockerfile workload is built, pushed to the registry and run by digest.
func TestSwarmEnginePlacesByLabelAndRunsBuildsByDigest(t *testing.T) {
	requireSwarm(t)
	h := newHarness(t)
	h.CleanBuilt()
	reg := dockertest.Registry(t)
	rt, proxy := h.EmbeddedRouter()
	node, err := exec.Command("docker", "info", "--format", "{{.Swarm.NodeID}}").Output()
	require.NoError(t, err)
	nodeID := strings.TrimSpace(string(node))
	require.NoError(t, exec.Command("docker", "node", "update", "--label-add", "berth-test-role=web", nodeID).Run())
	t.Cleanup(func() { _ = exec.Command("docker", "node", "update", "--label-rm", "berth-test-role", nodeID).Run() })
	host := h.App + ".test"
	api := "berth_" + h.App + "_api"
	t.Cleanup(func() { removeService(t, api); removeService(t, "berth_"+h.App+"_db") })
	h.Repo.Write("apps/"+h.App+"/api/Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"built\"\n", h.Image))
	h.Workload("api", fmt.Sprintf("source:\n  type: dockerfile\n  context: api\nport: 8080\nroute:\n  hosts: [%s]\nreplicas: 2\nconstraints: [\"node.labels.berth-test-role==web\"]\n", host))
	h.Workload("db", "source:\n  type: image\n  image: "+h.Image+"\nconstraints: [\"node.labels.berth-test-role==db\"]\n")
	h.Repo.Push("placed by label")
	opts := swarmOptions(h, rt)
	opts.PushRegistry = reg
	a, st := h.Agent(opts)
	res, err := a.Tick(context.Background())
	require.Error(t, err)
	assert.Equal(t, []string{h.ID("api")}, res.Deployed)
	assert.Equal(t, []string{h.ID("db")}, res.Failed)
	ev := agenttest.Events(t, st, h.ID("db"))
	assert.Contains(t, ev[len(ev)-1].Message, "cannot be placed")

	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "built")
	out, err := exec.Command("docker", "service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", api).Output()
	require.NoError(t, err)
	img := strings.TrimSpace(string(out))
	assert.True(t, strings.HasPrefix(img, reg+"/berth/"+h.App+"_api@sha256:"), "pushed and run by digest: %s", img)
	assert.Len(t, serviceTasks(t, api), 2)
}

// The same workload file deploys unchanged on --engine docker: one
// container, replicas and constraints being Swarm's.
func TestSwarmFieldsDeployUnchangedOnTheDockerEngine(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	h.Workload("web", agenttest.Routed(h.Image, host, "one", "")+"replicas: 3\nconstraints: [\"node.labels.role==web\"]\n")
	a, _ := h.Start("swarm fields", agent.Options{Router: rt})
	_ = a
	assert.Len(t, h.Containers()[h.ID("web")], 1)
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "one")
}

// A service's shared secrets reach its tasks as Swarm secrets, files in
// /run/secrets named by NAME_FILE in the env: the canary is in the task's
// file, not its env, and in no byte under /var/lib/docker/swarm (the
// service env would be: each node's task store keeps it in plain text),
// the events or the logs. A version that passes its gate and crashes later is shown down
// within one tick of Swarm seeing it, not running until the next deploy.
func TestSwarmServiceSecretsAndTruthfulStatus(t *testing.T) {
	requireSwarm(t)
	h := newHarness(t)
	const canary = "CANARY-5wa7m-do-not-leak"
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+rcpt+"]\n")
	id, svc := h.ID("api"), "berth_"+h.App+"_api"
	t.Cleanup(func() {
		removeService(t, svc)
		out, _ := exec.Command("docker", "secret", "ls", "-q", "--filter", "label=berth.workload="+id).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"secret", "rm"}, ids...)...).Run()
		}
	})
	api := func(extra string) string {
		return "source:\n  type: image\n  image: " + h.Image + "\nenv:\n  SHOW_ENV: \"1\"\n  DATA_FILE: /run/secrets/API_KEY\n" + extra + "port: 8080\n"
	}
	h.Workload("api", api(""))
	berthCLI(t, canary, "secrets", "set", "API_KEY", "--app", h.App, "--dir", h.Repo.Dir)
	h.Repo.Push("a service with a secret")

	red := secrets.NewRedactor()
	var logs lockedBuffer
	h.Log = slog.New(secrets.Handler(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}), red))
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	opts := swarmOptions(h, nil)
	opts.Secrets, opts.SecretKey, opts.Redactor = secrets.NewResolver(ids, nil, red), key, red
	a, st := h.Agent(opts)
	ctx := context.Background()
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed)
	row := agenttest.Rows(t, st)[id]
	require.NotEmpty(t, row.Upstream, "the row names the task's address")
	addr := strings.Split(row.Upstream, ",")[0]
	env := envOf(t, addr)
	assert.Empty(t, env["API_KEY"], "not in the env")
	assert.Equal(t, "/run/secrets/API_KEY", env["API_KEY_FILE"])
	code, body, _ := httpGet(t, "http://"+addr+"/data")
	assert.Equal(t, 200, code)
	assert.Equal(t, canary, body, "the file holds the value")
	var found []string
	_ = filepath.WalkDir("/var/lib/docker/swarm", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, rerr := os.ReadFile(p); rerr == nil && bytes.Contains(b, []byte(canary)) {
				found = append(found, p)
			}
		}
		return nil
	})
	assert.Empty(t, found, "the secret is not written in plain text in Swarm's store")
	for _, e := range agenttest.Events(t, st, id) {
		assert.NotContains(t, e.Message, canary)
	}
	assert.NotContains(t, logs.String(), canary)

	// Passes its gate, crashes 6 s later, again and again.
	h.Workload("api", api("  EXIT_AFTER: 6s\n"))
	h.Repo.Push("crashes later")
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Deployed)
	var states []string
	for range 60 { // bounded: 30 s
		_, _ = a.Tick(ctx)
		row = agenttest.Rows(t, st)[id]
		states = append(states, row.Status)
		if row.Status != store.StatusRunning {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	assert.NotEqual(t, store.StatusRunning, row.Status, "the crash is seen: %v", states)
	assert.Equal(t, agent.StateDown, agent.HealthOf(row).State, agent.HealthOf(row).Summary)
}
