package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/gitserver"
)

func TestUnsignedConfigCommitIsNotDeployed(t *testing.T) {
	h := newHarness(t)
	ops := gitserver.NewSSHSigner(t, "ops@example.com")
	file := filepath.Join(t.TempDir(), "allowed_signers")
	require.NoError(t, os.WriteFile(file, []byte(ops.Trusted), 0o644))
	signers, err := gitops.LoadSigners(file)
	require.NoError(t, err)
	h.Signers = signers
	sw, err := gitops.NewStatusWriter(h.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{})
	require.NoError(t, err)
	ctx := context.Background()
	status := func() *gitops.StatusReport {
		dir := t.TempDir()
		gitserver.Git(t, "", "clone", "-q", "--branch", "berth/status", h.Repo.URL, dir)
		r, err := gitops.ReadStatus(dir, "HEAD", h.Name)
		require.NoError(t, err)
		return r
	}

	h.Workload("web", agenttest.Web(h.Image, "signed v1"))
	good := h.Repo.PushSigned("web v1", ops)
	a, st := h.Agent(agent.Options{Status: sw})
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	web := h.Containers()[h.ID("web")]
	require.Len(t, web, 1)

	// An unsigned push changes nothing that runs, on this tick or the next,
	// and is reported once.
	h.Workload("web", agenttest.Web(h.Image, "unsigned v2"))
	bad := h.Repo.Push("web v2, unsigned")
	for range 2 {
		res, err := a.Tick(ctx)
		require.NoError(t, err, "keeping the last verified commit is a successful tick")
		assert.Equal(t, good, res.Commit)
		require.NotNil(t, res.Unverified)
		assert.Equal(t, bad, res.Unverified.Commit)
	}
	assert.Equal(t, web[0].ID, h.Containers()[h.ID("web")][0].ID, "the running container was not touched")
	assert.Equal(t, good, agenttest.Rows(t, st)[h.ID("web")].Commit)
	var unverified int
	for _, ev := range agenttest.Events(t, st, "") {
		if ev.Kind == string(agent.KindCommitUnverified) {
			unverified++
			assert.Equal(t, bad, ev.Commit)
			assert.Contains(t, ev.Message, "not signed")
			assert.Contains(t, ev.Message, "still running "+good[:7])
		}
	}
	assert.Equal(t, 1, unverified, "one event per rejected commit")
	r := status()
	require.NotNil(t, r.Unverified)
	assert.Equal(t, bad, r.Unverified.Commit)
	assert.Equal(t, good, r.Commit)

	// Signing the change deploys it and clears the status.
	next := h.Repo.PushSigned("web v2, signed", ops)
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	assert.Equal(t, next, agenttest.Rows(t, st)[h.ID("web")].Commit)
	assert.Nil(t, status().Unverified)
}
