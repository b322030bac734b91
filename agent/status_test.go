package agent_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/badge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/gitserver"
)

// statusLog lists the subjects of the status branch, newest first.
func statusLog(t *testing.T, url string) []string {
	t.Helper()
	out := gitserver.Git(t, "", "ls-remote", url, "refs/heads/berth/status")
	if strings.TrimSpace(out) == "" {
		return nil
	}
	dir := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", url, dir)
	return strings.Split(strings.TrimSpace(gitserver.Git(t, dir, "log", "--format=%s")), "\n")
}

func TestStatusBranchAfterChangesOnly(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	commit := h.Repo.Push("web")
	sw, err := gitops.NewStatusWriter(h.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{})
	require.NoError(t, err)
	a, _ := h.Agent(agent.Options{Status: sw})
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	log := statusLog(t, h.Repo.URL)
	require.Len(t, log, 1)
	assert.Equal(t, fmt.Sprintf("berth(%s): %s deployed %s via recreate", h.Name, h.ID("web"), commit[:7]), log[0])

	// An idle tick pushes nothing.
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	require.True(t, res.NoOp)
	assert.Len(t, statusLog(t, h.Repo.URL), 1)

	// A container going missing is a change worth a status commit.
	require.NoError(t, h.Docker.Remove(context.Background(), h.Containers()[h.ID("web")][0].ID, 0))
	b, bst := h.Agent(agent.Options{Status: sw, SelfHeal: false})
	_, err = b.Tick(context.Background())
	require.NoError(t, err)
	log = statusLog(t, h.Repo.URL)
	require.Len(t, log, 2)
	dir := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", h.Repo.URL, dir)
	r, err := gitops.ReadStatus(dir, "HEAD", h.Name)
	require.NoError(t, err)
	assert.Equal(t, "down", r.Workloads[h.ID("web")].State, "a workload whose container is gone is never shown running")
	assert.FileExists(t, filepath.Join(dir, h.Name, "badges", h.App+"--web.svg"))

	// The API serves the same badge.
	rec := httptest.NewRecorder()
	agenttest.API(b, bst).ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/badges/"+h.App+"/web.svg", nil))
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, string(badge.SVG(h.ID("web"), "down")), rec.Body.String())
}

func TestStatusPushFailureDoesNotFailDeploys(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	h.Repo.Push("web")
	sw, err := gitops.NewStatusWriter(h.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"),
		gitops.Credentials{PasswordFile: "/nonexistent/token"})
	require.NoError(t, err)
	a, st := h.Agent(agent.Options{Status: sw})
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	warns, err := st.Events(context.Background(), store.EventFilter{Severity: store.SeverityWarn})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, string(agent.KindStatusPushFailed), warns[0].Kind)
	assert.Contains(t, warns[0].Message, "git password file")
}

// TestHeartbeatWhenIdle: an idle agent rewrites its report once per
// --heartbeat, never on every tick, so `berth fleet` tells a quiet agent
// from an idle one.
func TestHeartbeatWhenIdle(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	h.Repo.Push("web")
	sw, err := gitops.NewStatusWriter(h.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{})
	require.NoError(t, err)
	clk := newClock()
	a, _ := h.Agent(agent.Options{Status: sw, Now: clk.Now, Heartbeat: 10 * time.Minute, Labels: map[string]string{"role": "web"}})
	ctx := context.Background()
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	for range 3 { // idle ticks within the heartbeat push nothing
		clk.Add(3 * time.Minute)
		res, err := a.Tick(ctx)
		require.NoError(t, err)
		require.True(t, res.NoOp)
	}
	require.Len(t, statusLog(t, h.Repo.URL), 1)
	clk.Add(2 * time.Minute) // 11 minutes after the first report
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	log := statusLog(t, h.Repo.URL)
	require.Len(t, log, 2)
	assert.True(t, strings.HasPrefix(log[0], fmt.Sprintf("berth(%s): heartbeat at ", h.Name)), log[0])
	f, err := gitops.FetchFleet(ctx, h.Repo.URL, "berth/status", gitops.Credentials{}, clk.Now())
	require.NoError(t, err)
	require.Len(t, f.Agents, 1)
	assert.Equal(t, map[string]string{"role": "web"}, f.Agents[0].Labels)
	assert.Equal(t, 600, f.Agents[0].HeartbeatSeconds)
	assert.False(t, f.Agents[0].Quiet)
	later, err := gitops.FetchFleet(ctx, h.Repo.URL, "berth/status", gitops.Credentials{}, clk.Now().Add(31*time.Minute))
	require.NoError(t, err)
	assert.True(t, later.Agents[0].Quiet, "31 minutes without a report: 3 heartbeats missed")
}

// A token that can read the config repo but not push to it: the first
// status push says so once — a warning event naming the fix — and status
// push-back stays off (no retry per heartbeat) while deploys go on.
func TestReadOnlyTokenTurnsStatusPushBackOffOnce(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	h.Repo.Push("web")
	srv := gitserver.Start(t, gitserver.WithPassword("rw-token-for-the-test"), gitserver.WithReadOnlyPassword("ro-token-for-the-test"))
	statusRepo := srv.NewRepo(t, "status")
	statusRepo.Write("README.md", "status\n").Push("init")
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("ro-token-for-the-test\n"), 0o600))
	sw, err := gitops.NewStatusWriter(statusRepo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{PasswordFile: tokenFile})
	require.NoError(t, err)
	clk := newClock()
	a, st := h.Agent(agent.Options{Status: sw, Now: clk.Now, Heartbeat: 10 * time.Minute})
	ctx := context.Background()
	res, err := a.Tick(ctx)
	require.NoError(t, err, "the deploy does not depend on the status branch")
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	for range 4 { // heartbeats: no push is tried again
		clk.Add(11 * time.Minute)
		_, err := a.Tick(ctx)
		require.NoError(t, err)
	}
	var refused []store.Event
	for _, e := range agenttest.Events(t, st, "") {
		if e.Kind == string(agent.KindStatusPushFailed) {
			refused = append(refused, e)
		}
	}
	require.Len(t, refused, 1, "one warning, not one per heartbeat")
	assert.Equal(t, 1, refused[0].Count)
	assert.Contains(t, refused[0].Message, "write access")
	assert.Contains(t, refused[0].Message, "until the agent restarts")
	assert.NotContains(t, refused[0].Message, "ro-token-for-the-test", "the token never reaches an event")
}
