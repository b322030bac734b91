package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/testkit/agenttest"
)

// A scheduled backup that keeps failing is notified once, a backup older
// than two periods is a warning (notified once), and the first success
// after that is notified once as a recovery; the status branch shows the
// newest snapshot's time, and whether backups fail or are stale.
func TestBackupFailuresStalenessAndRecoveryAreReported(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	hook := newReceiver(t)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	h.Repo.Write("berth.yaml", fmt.Sprintf("secrets:\n  recipients: [%s]\nnotifications:\n  - url: %s/hook\n", id.Recipient(), hook.srv.URL))
	h.Workload("db", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  DATA_FILE: /data/value\nport: 8080\n"+
		"volumes:\n  data:\n    path: /data\n    backup: {schedule: \"@every 1h\", keep: {last: 3}}\n", h.Image))
	pol, err := policy.Parse("private-notify")
	require.NoError(t, err)
	clk := newClock()
	// The target cannot be written: a file stands where the dir should be.
	dir := filepath.Join(t.TempDir(), "backups")
	require.NoError(t, os.WriteFile(dir, nil, 0o600))
	sw, err := gitops.NewStatusWriter(h.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{})
	require.NoError(t, err)
	a, st := h.Start("db", agent.Options{BackupDir: dir, BackupIdentities: []age.Identity{id}, Now: clk.Now, Policy: pol, Status: sw})
	ctx := context.Background()
	wid := h.ID("db")
	status := func() gitops.VolumeBackup {
		t.Helper()
		_, err := a.Tick(ctx)
		require.NoError(t, err)
		f, err := gitops.FetchFleet(ctx, h.Repo.URL, "berth/status", gitops.Credentials{}, clk.Now())
		require.NoError(t, err)
		require.Len(t, f.Agents, 1)
		return f.Agents[0].Workloads[wid].Backups["data"]
	}
	hour := func() {
		clk.Add(time.Hour + time.Minute)
		a.RunDueJobs(ctx)
		a.WaitJobs()
	}

	hour()
	hour() // the same failure again: counted, not notified again
	a.Flush(ctx)
	assert.Equal(t, []string{"backup.failed"}, hook.kinds(t))
	vb := status()
	assert.True(t, vb.Failing, "%+v", vb)
	assert.True(t, vb.LastAt.IsZero())

	hour() // more than two periods without a snapshot
	a.Flush(ctx)
	assert.Equal(t, []string{"backup.failed", "backup.stale"}, hook.kinds(t))
	assert.True(t, status().Stale)
	var stale []store.Event
	for _, e := range agenttest.Events(t, st, wid) {
		if e.Kind == "backup.stale" {
			stale = append(stale, e)
		}
	}
	require.Len(t, stale, 1)
	assert.Contains(t, stale[0].Message, "no snapshot was taken")

	require.NoError(t, os.Remove(dir)) // the target is back
	hour()
	a.Flush(ctx)
	assert.Equal(t, []string{"backup.failed", "backup.stale", "backup.recovered"}, hook.kinds(t))
	vb = status()
	assert.False(t, vb.Failing || vb.Stale, "%+v", vb)
	assert.WithinDuration(t, clk.Now(), vb.LastAt, 2*time.Minute, "the status branch shows when the newest snapshot was taken")

	hour() // a success after a success: not notified (not a default event)
	a.Flush(ctx)
	assert.Len(t, hook.kinds(t), 3)
}
