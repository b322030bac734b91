package main_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/loopback"
)

// TestRollbackCommands drives `berth releases`, `rollback`, `suspend`
// and `resume` against a running `berth agent`, as an operator would.
func TestRollbackCommands(t *testing.T) {
	w := newCLIWorld(t)
	img, name, app, src := w.img, w.name, w.app, w.src
	web := func(msg string) string {
		return "source:\n  type: image\n  image: " + img + "\n  deploy_strategy: recreate\nenv:\n  MESSAGE: " + msg + "\nport: 8080\n"
	}
	v1 := src.Write("apps/"+app+"/web.yaml", web("one")).Push("one")
	ag := startAgent(t, "--repo", src.URL, "--state-dir", t.TempDir(), "--agent-name", name,
		"--schedule", "@every 1h", "--router", "none", "--status-branch", "")
	addr, stderr := ag.addr, ag.stderr
	agentURL := "http://" + addr
	serving := func() (string, string) {
		var rows []map[string]any
		resp, err := http.Get(agentURL + "/api/workloads")
		if err != nil {
			return "", ""
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&rows)
		for _, r := range rows {
			if r["workload_id"] == app+"/web" {
				return r["commit"].(string), r["state"].(string)
			}
		}
		return "", ""
	}
	waitFor := func(commit, state string) {
		t.Helper()
		for range 150 { // bounded: 30 s
			if c, s := serving(); c == commit && s == state {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		c, s := serving()
		t.Fatalf("wanted %.7s %s, have %.7s %s:\n%s", commit, state, c, s, stderr.String())
	}
	waitFor(v1, "running")
	v2 := src.Write("apps/"+app+"/web.yaml", web("two")).Push("two")
	resp, err := http.Post(agentURL+"/api/sync", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	waitFor(v2, "running")

	r := run(t, nil, "releases", app+"/web", "--agent", agentURL)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.True(t, strings.HasPrefix(lines[1], v2[:7]), "newest first")
	assert.Contains(t, lines[1], "serving")

	r = run(t, nil, "rollback", app+"/web", "--agent", agentURL)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "rolled back to "+v1[:7]+" and pinned")
	waitFor(v1, "pinned")

	r = run(t, []string{"BERTH_AGENT=" + agentURL}, "suspend", app+"/web")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "suspended")
	waitFor(v1, "suspended")
	r = run(t, []string{"BERTH_AGENT=" + agentURL}, "resume", app+"/web")
	require.Equal(t, 0, r.code, r.stderr)
	waitFor(v2, "running") // resume triggers a tick: back to what git says

	r = run(t, nil, "rollback", app+"/web", "--agent", agentURL, "--to", "0000000")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no kept release at 0000000")
	r = run(t, nil, "rollback", "not-an-id", "--agent", agentURL)
	assert.Equal(t, 2, r.code)
	r = run(t, nil, "releases", app+"/web", "--agent", "http://"+loopback.FreeAddr(t))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "is `berth agent` running?")
}
