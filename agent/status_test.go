package agent_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/gitserver"
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
	h.workload("web", web(h.image, "v1"))
	commit := h.repo.Push("web")
	sw, err := gitops.NewStatusWriter(h.repo.URL, "berth/status", h.name, filepath.Join(h.stateDir, "status.git"), gitops.Credentials{})
	require.NoError(t, err)
	a, _ := h.agent(agent.Options{Status: sw})
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	log := statusLog(t, h.repo.URL)
	require.Len(t, log, 1)
	assert.Equal(t, fmt.Sprintf("berth(%s): %s deployed %s via recreate", h.name, h.id("web"), commit[:7]), log[0])

	// An idle tick pushes nothing.
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	require.True(t, res.NoOp)
	assert.Len(t, statusLog(t, h.repo.URL), 1)

	// A container going missing is a change worth a status commit.
	require.NoError(t, h.docker.Remove(context.Background(), h.containers()[h.id("web")][0].ID, 0))
	b, _ := h.agent(agent.Options{Status: sw, SelfHeal: false})
	_, err = b.Tick(context.Background())
	require.NoError(t, err)
	log = statusLog(t, h.repo.URL)
	require.Len(t, log, 2)
	dir := t.TempDir()
	gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", h.repo.URL, dir)
	r, err := gitops.ReadStatus(dir, "HEAD", h.name)
	require.NoError(t, err)
	assert.Equal(t, "missing", r.Workloads[h.id("web")].State)
	assert.FileExists(t, filepath.Join(dir, h.name, "badges", h.app+"--web.svg"))

	// The API serves the same badge.
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/badges/"+h.app+"/web.svg", nil))
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, string(gitops.Badge(h.id("web"), "missing")), rec.Body.String())
}

func TestStatusPushFailureDoesNotFailDeploys(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "v1"))
	h.repo.Push("web")
	sw, err := gitops.NewStatusWriter(h.repo.URL, "berth/status", h.name, filepath.Join(h.stateDir, "status.git"),
		gitops.Credentials{PasswordFile: "/nonexistent/token"})
	require.NoError(t, err)
	a, st := h.agent(agent.Options{Status: sw})
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("web")}, res.Deployed)
	warns, err := st.Events(context.Background(), store.EventFilter{Severity: store.SeverityWarn})
	require.NoError(t, err)
	require.Len(t, warns, 1)
	assert.Equal(t, agent.KindStatusPushFailed, warns[0].Kind)
	assert.Contains(t, warns[0].Message, "git password file")
}
