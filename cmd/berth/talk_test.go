package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One way to talk to a running agent: with only BERTH_AGENT (and
// BERTH_API_TOKEN_FILE) set, status, events, sync, releases, rollback
// and retry all reach it, from a folder with no state dir; a missing
// token names the flag that gives it; `berth sync` on the agent's own
// state dir asks that agent for the tick.
func TestEveryCommandTalksToTheRunningAgent(t *testing.T) {
	w := newCLIWorld(t)
	w.src.Write("apps/"+w.app+"/web.yaml", "source:\n  type: image\n  image: "+w.img+"\nport: 8080\nenv:\n  MESSAGE: v1\n")
	w.src.Write("apps/"+w.app+"/cleanup.yaml", "source:\n  type: image\n  image: "+w.img+"\nenv:\n  MESSAGE: swept\njob:\n  schedule: \"@yearly\"\n  command: [task, \"0\", \"0\", MESSAGE]\n").Push("v1")
	state := t.TempDir()
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(token, []byte("a-token-of-32-bytes-for-the-test\n"), 0o600))
	ag := startAgent(t, "--repo", w.src.URL, "--state-dir", state, "--agent-name", w.name, "--schedule", "@every 1h",
		"--router", "none", "--status-branch", "", "--api-token-file", token)
	id := w.app + "/web"
	env := []string{"BERTH_AGENT=http://" + ag.addr, "BERTH_API_TOKEN_FILE=" + token}
	elsewhere := t.TempDir()
	runIn := func(env []string, args ...string) result {
		t.Helper()
		cwd, err := os.Getwd()
		require.NoError(t, err)
		require.NoError(t, os.Chdir(elsewhere))
		defer func() { require.NoError(t, os.Chdir(cwd)) }()
		return run(t, env, args...)
	}

	// The agent's first tick may have deployed it already: then this
	// tick is the agent's answer that it is up to date.
	r := runIn(env, "sync")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `deployed 2|up to date at [0-9a-f]{7}`, r.stdout+r.stderr)

	require.Eventually(t, func() bool {
		r = runIn(env, "status")
		return r.code == 0 && strings.Contains(r.stdout, id) && strings.Contains(r.stdout, "running")
	}, 20*time.Second, 200*time.Millisecond, "%s %s", r.stdout, r.stderr)
	_, err := os.Stat(filepath.Join(elsewhere, ".berth"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no state dir was made or read here")

	r = runIn(env, "events", "--workload", id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "deploy.succeeded")

	r = runIn(env, "releases")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, id+":")
	r = runIn(env, "releases", id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "serving")

	r = runIn(env, "retry", id)
	require.Equal(t, 0, r.code, r.stderr)
	r = runIn(env, "rollback", id)
	assert.NotEqual(t, 0, r.code, "one release only: nothing to roll back to")
	assert.Contains(t, r.stderr, "no release before")

	// A job, started by the operator; its run shows in berth jobs.
	r = runIn(env, "run", w.app+"/cleanup")
	require.Equal(t, 0, r.code, r.stderr)
	require.Eventually(t, func() bool {
		r = runIn(env, "jobs", w.app+"/cleanup", "--json")
		return r.code == 0 && strings.Contains(r.stdout, `"trigger": "operator"`)
	}, 30*time.Second, 300*time.Millisecond, "%s %s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, `"exit_code": 0`)
	assert.Contains(t, r.stdout, "MESSAGE=swept")
	r = runIn(env, "jobs")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, w.app+"/cleanup")
	r = runIn(env, "run", id)
	assert.NotEqual(t, 0, r.code, "a service is not a job")
	assert.Contains(t, r.stderr, "not a job")

	// Without the token: the error says which flag gives it.
	r = runIn([]string{"BERTH_AGENT=http://" + ag.addr}, "releases", id)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "--api-token-file")

	// A sync on the agent's own state dir asks that agent.
	r = run(t, []string{"BERTH_API_TOKEN_FILE=" + token}, "sync", "--repo", w.src.URL, "--state-dir", state, "--agent-name", w.name)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "asking that agent")
	// An explicit --state-dir wins over the agent.
	r = run(t, env, "status", "--state-dir", state)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "config commit")
}
