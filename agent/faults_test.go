package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/gitserver"
)

func readyz(t *testing.T, a *agent.Agent) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	agenttest.API(a, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/readyz", nil))
	return rec.Code, rec.Body.String()
}

// TestGitRemoteFaults: a config repo whose server hangs, resets the
// connection or answers 500 fails the tick with an error that names the
// remote (and, for a hang, the timeout), never freezes the agent, stops
// nothing that runs, and makes /readyz fail once ticks have failed long
// enough; when the server answers again the agent recovers by itself.
func TestGitRemoteFaults(t *testing.T) {
	h := newHarness(t)
	front := gitserver.NewFaulty(t, h.Server)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	h.Repo.Push("v1")
	repo, err := gitops.NewRepo(front.URL+"/config.git", "main", filepath.Join(h.StateDir, "repo"), gitops.Credentials{})
	require.NoError(t, err)
	clk := newClock()
	a := h.AgentOn(repo, agent.Options{Schedule: "@every 10s", Now: clk.Now, Timeouts: agent.Timeouts{Git: time.Second}})
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	running := h.Containers()[h.ID("web")][0].ID
	code, _ := readyz(t, a)
	require.Equal(t, http.StatusOK, code)

	for _, tc := range []struct {
		name  string
		fault gitserver.Fault
		want  string
	}{
		{"hangs", gitserver.Hang, "timed out after 1s (--git-timeout)"},
		{"resets", gitserver.Reset, front.URL},
		{"answers 500", gitserver.Fail, "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front.Set(tc.fault)
			h.Repo.Write("README.md", tc.name).Push("unrelated change that cannot be fetched")
			_, err := a.Tick(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, gitops.RetryLater, gitops.Classify(err), "the next tick may succeed on its own")
			h.RequireOnlyRunning(t, "web", running)
		})
	}
	front.Set(gitserver.Hang)
	_, err = a.Tick(context.Background())
	require.Error(t, err)
	_, err = a.Tick(context.Background())
	require.Error(t, err)
	st, err := store.Open(context.Background(), filepath.Join(h.StateDir, "berth.db"))
	require.NoError(t, err)
	defer st.Close()
	global, err := st.Events(context.Background(), store.EventFilter{Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, string(agent.KindSyncFailed), global[0].Kind)
	assert.GreaterOrEqual(t, global[0].Count, 2, "an outage is one event with a count, not one per tick")
	clk.Add(45 * time.Second) // > 3 × 10s + 1s without a successful tick
	code, body := readyz(t, a)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no tick has succeeded for")

	front.Set(gitserver.Pass)
	h.Workload("web", agenttest.Web(h.Image, "v2"))
	h.Repo.Push("v2")
	res, err := a.Tick(context.Background())
	require.NoError(t, err, "recovers by itself")
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	code, _ = readyz(t, a)
	assert.Equal(t, http.StatusOK, code)
}

// TestHangingForgeNeverBlocksADeploy: commit statuses go through a
// bounded queue; a forge that never answers times out in the background
// (a warning event says so) while the deploy and the tick finish.
func TestHangingForgeNeverBlocksADeploy(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var answered atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		answered.Add(1)
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("t0ken"), 0o600))
	fc, err := forge.New(forge.GitHub, srv.URL, "acme/config", tokenFile)
	require.NoError(t, err)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	a, st := h.Start("v1", agent.Options{Forge: fc, Timeouts: agent.Timeouts{Forge: time.Second}})
	assert.Zero(t, answered.Load(), "the tick finished while the forge still held the first status")
	assert.Len(t, h.Containers()[h.ID("web")], 1, "the deploy happened")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Flush(ctx)
	warns, err := st.Events(context.Background(), store.EventFilter{Severity: store.SeverityWarn, Limit: 10})
	require.NoError(t, err)
	require.NotEmpty(t, warns)
	assert.Equal(t, string(agent.KindCommitStatusFailed), warns[0].Kind)
	assert.Contains(t, warns[0].Message, "not posted")
}

// TestFullDiskDuringCheckout: the state dir on a tiny tmpfs fills up in
// the middle of a checkout. The tick fails, nothing that runs stops, and
// the half-written tree is never read as the new commit; once there is
// room again the next tick deploys it.
func TestFullDiskDuringCheckout(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mounting a tmpfs (needs root): %v\n%s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	h.StateDir = dir
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	a, st := h.Start("v1", agent.Options{})
	running := h.Containers()[h.ID("web")][0].ID

	big := strings.Repeat("0123456789abcdef", 8<<16) // 8 MiB: more than the disk holds
	h.Repo.Write("apps/"+h.App+"/big/blob.txt", big)
	h.Workload("web", agenttest.Web(h.Image, "v2"))
	h.Repo.Push("a commit that does not fit")
	_, err := a.Tick(context.Background())
	require.Error(t, err, "the checkout cannot finish")
	h.RequireOnlyRunning(t, "web", running)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "v1")

	require.NoError(t, exec.Command("mount", "-o", "remount,size=64m", dir).Run())
	res, err := a.Tick(context.Background())
	require.NoError(t, err, "room again: the next tick finishes the checkout")
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "v2")
	_, err = os.Stat(filepath.Join(dir, "repo", "apps", h.App, "big", "blob.txt"))
	require.NoError(t, err)
}

// TestAppRepoOutageKeepsTheLastCommit: an app repo that cannot be fetched
// neither fails the workload nor redeploys it: the last fetched commit
// stays its desired state, and when the remote is back nothing moves.
func TestAppRepoOutageKeepsTheLastCommit(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	srv := gitserver.Start(t)
	app := srv.NewRepo(t, "app")
	app.Write("Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"app one\"\n", h.Image)).Push("one")
	front := gitserver.NewFaulty(t, srv)
	h.Workload("svc", fmt.Sprintf("source:\n  type: dockerfile\n  git:\n    url: %s/app.git\nport: 8080\n", front.URL))
	a, st := h.Start("an app repo", agent.Options{Timeouts: agent.Timeouts{Git: time.Second}})
	before := agenttest.Rows(t, st)[h.ID("svc")]

	front.Set(gitserver.Hang)
	h.Repo.Write("README.md", "touch the config repo").Push("reload")
	res, err := a.Tick(context.Background())
	require.NoError(t, err, "an unreachable app repo is not a failed deploy")
	assert.Empty(t, res.Deployed)
	front.Set(gitserver.Pass)
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Deployed, "the same commit: no redeploy once it answers again")
	assert.Equal(t, before.ContainerID, agenttest.Rows(t, st)[h.ID("svc")].ContainerID)
}

// TestAgentsSharingANameKeepTheirContainers: two agents with the same
// --agent-name but their own state dirs on one Docker host each ignore
// the other's containers: neither prunes nor cleans up the other's.
func TestAgentsSharingANameKeepTheirContainers(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "mine"))
	h.Start("one agent", agent.Options{})
	mine := h.Containers()[h.ID("web")][0].ID

	other := newHarness(t)
	other.Name = h.Name // the same agent name, another state dir
	other.Workload("api", agenttest.Web(other.Image, "theirs"))
	b, _ := other.Start("another agent", agent.Options{AllowEmpty: true})
	res, err := b.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Pruned)
	h.RequireOnlyRunning(t, "web", mine)
}
