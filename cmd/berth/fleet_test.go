package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
)

// Two agents with labels share one repo on a real git server: each syncs
// exactly the workload placed on it, a placement change moves one, and
// `berth fleet` shows both agents and where each workload runs.
func TestFleetTwoAgentsWithLabels(t *testing.T) {
	w := newCLIWorld(t)
	nameB := dockertest.AgentName(t)
	spec := func(placement string) string {
		return "source:\n  type: image\n  image: " + w.img + "\nport: 8080\nplacement:\n" + placement
	}
	w.src.Write("apps/"+w.app+"/web.yaml", spec("  labels: {role: web}\n"))
	w.src.Write("apps/"+w.app+"/db.yaml", spec("  labels: {role: db}\n"))
	w.src.Push("web on role=web, db on role=db")
	envA := []string{"BERTH_STATE_DIR=" + t.TempDir(), "BERTH_AGENT_NAME=" + w.name, "BERTH_AGENT_LABELS=role=web,zone=eu"}
	envB := []string{"BERTH_STATE_DIR=" + t.TempDir(), "BERTH_AGENT_NAME=" + nameB, "BERTH_AGENT_LABELS=role=db"}
	sync := func(env []string) {
		t.Helper()
		r := run(t, env, "sync", "--repo", w.src.URL, "--router", "none")
		require.Equal(t, 0, r.code, r.stderr)
	}
	fleet := func(repo ...string) gitops.Fleet {
		t.Helper()
		r := run(t, nil, "fleet", "--repo", append(repo, w.src.URL)[0], "--json")
		require.Equal(t, 0, r.code, r.stderr)
		var f gitops.Fleet
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &f), r.stdout)
		return f
	}
	where := func(f gitops.Fleet) map[string][]string {
		out := map[string][]string{}
		for _, a := range f.Agents {
			for id, ws := range a.Workloads {
				out[id] = append(out[id], a.Agent+":"+ws.State)
			}
		}
		return out
	}
	web, db := w.app+"/web", w.app+"/db"

	sync(envA)
	sync(envB)
	f := fleet()
	require.Len(t, f.Agents, 2)
	assert.Equal(t, map[string][]string{web: {w.name + ":running"}, db: {nameB + ":running"}}, where(f))
	a := f.Agent(w.name)
	require.NotNil(t, a)
	assert.Equal(t, map[string]string{"role": "web", "zone": "eu"}, a.Labels)
	assert.False(t, a.Quiet, "it reported a moment ago")
	assert.NotZero(t, a.Heartbeat)

	r := run(t, nil, "fleet", "--repo", w.src.URL)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "2 agent(s), 2 workload(s)")
	assert.Regexp(t, web+`\s+`+w.name+`\s+running`, r.stdout)
	assert.Regexp(t, db+`\s+`+nameB+`\s+running`, r.stdout)

	// A pull request moving web to b: the plan names both agents, from the
	// status branch in the reviewer's clone.
	clone := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", w.src.URL, clone)
	require.NoError(t, os.WriteFile(filepath.Join(clone, "apps", w.app, "web.yaml"), []byte(spec("  agents: ["+nameB+"]\n")), 0o644))
	gitserver.Git(t, clone, "commit", "-qam", "move web")
	r = run(t, nil, "plan", "--base", "origin/main", clone)
	require.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stdout, "agents: 2 known from berth/status@")
	assert.Contains(t, r.stdout, "placement: labels role=web → agents "+nameB)
	assert.Contains(t, r.stdout, "moves: "+w.name+" → "+nameB)

	// web moves to b by name: b deploys it, a prunes its copy.
	w.src.Write("apps/"+w.app+"/web.yaml", spec("  agents: ["+nameB+"]\n"))
	w.src.Push("web moves to b")
	sync(envB)
	sync(envA)
	assert.Equal(t, map[string][]string{web: {nameB + ":running"}, db: {nameB + ":running"}}, where(fleet()))
	assert.Equal(t, where(fleet()), where(fleet(clone)), "a clone made before the move reads its origin: the same, current fleet")

	r = run(t, nil, "fleet", "--repo", w.src.URL, "--status-branch", "nope")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `no status branch "nope"`)
}

// Twenty agents (processes, one git server) push their status at once:
// every report lands, each in one commit of its own, within the bounded
// retries, and none overwrites another.
func TestTwentyAgentsPushStatusAtOnce(t *testing.T) {
	w := newCLIWorld(t)
	// One workload placed on no running agent: the repo is not empty, and
	// each sync's only news is its first heartbeat.
	w.src.Write("apps/"+w.app+"/web.yaml", "source:\n  type: image\n  image: "+w.img+"\nplacement:\n  agents: [nobody-here]\n")
	w.src.Push("a workload for no one")
	const n = 20
	type proc struct {
		name   string
		stderr bytes.Buffer
		cmd    *exec.Cmd
		took   time.Duration
	}
	procs := make([]*proc, n)
	start := time.Now()
	for i := range procs {
		p := &proc{name: fmt.Sprintf("%s-%02d", w.name, i)}
		p.cmd = exec.Command(agenttest.Berth(t), "sync", "--repo", w.src.URL, "--router", "none", "--state-dir", t.TempDir(), "--agent-name", p.name)
		p.cmd.Stderr = &p.stderr
		require.NoError(t, p.cmd.Start())
		procs[i] = p
	}
	var retries []int
	slowest, fastest := time.Duration(0), time.Hour
	for _, p := range procs {
		err := p.cmd.Wait()
		p.took = time.Since(start)
		require.NoError(t, err, "%s:\n%s", p.name, p.stderr.String())
		assert.Contains(t, p.stderr.String(), "status pushed", p.name)
		retries = append(retries, strings.Count(p.stderr.String(), "status push rejected, retrying"))
		slowest, fastest = max(slowest, p.took), min(fastest, p.took)
	}
	f, err := gitops.FetchFleet(context.Background(), w.src.URL, "berth/status", gitops.Credentials{}, time.Now())
	require.NoError(t, err)
	require.Len(t, f.Agents, n, "every agent's folder is on the branch")
	for i, a := range f.Agents {
		assert.Equal(t, procs[i].name, a.Agent)
		assert.False(t, a.Heartbeat.IsZero(), a.Agent)
	}
	dir := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", w.src.URL, dir)
	commits := strings.Split(strings.TrimSpace(gitserver.Git(t, dir, "log", "--format=%s")), "\n")
	assert.Len(t, commits, n, "one commit per agent: none lost, none repeated")
	slices.Sort(retries)
	total := 0
	for _, r := range retries {
		total += r
	}
	t.Logf("%d agents: the first done %s after the start, the last %s; retries per agent median %d, max %d (limit 15), %d in all",
		n, fastest.Round(time.Millisecond), slowest.Round(time.Millisecond), retries[n/2], retries[n-1], total)
}

// TestIdleSyncRunsPushNoHeartbeat: `berth sync` run from a timer is a new
// process each time. The first run reports; the idle runs after it push
// nothing until a heartbeat is due (10m), because the last push time
// lives in the state dir, not in memory.
func TestIdleSyncRunsPushNoHeartbeat(t *testing.T) {
	w := newCLIWorld(t)
	w.src.Write("apps/"+w.app+"/web.yaml", "source:\n  type: image\n  image: "+w.img+"\nport: 8080\n")
	w.src.Push("web")
	env := []string{"BERTH_STATE_DIR=" + t.TempDir(), "BERTH_AGENT_NAME=" + w.name}
	statusCommits := func() []string {
		t.Helper()
		dir := t.TempDir()
		gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", w.src.URL, dir)
		return strings.Split(strings.TrimSpace(gitserver.Git(t, dir, "log", "--format=%s")), "\n")
	}
	for i := range 3 {
		r := run(t, env, "sync", "--repo", w.src.URL, "--router", "none")
		require.Equal(t, 0, r.code, "run %d: %s", i, r.stderr)
	}
	commits := statusCommits()
	assert.Len(t, commits, 1, "one report for the deploy, no heartbeat from the two idle runs: %q", commits)
}
