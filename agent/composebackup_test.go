package agent_test

import (
	"context"
	"fmt"
	"os/exec"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/testkit/agenttest"
)

// A compose project's named volume, named in the workload file for its
// backups: snapshotted with the project's containers paused, then — after
// the data was rewritten — restored into a fresh generation that the
// checked project mounts instead, its services recreated on it.
func TestComposeVolumeBackupAndRestore(t *testing.T) {
	requireCompose(t)
	h := newHarness(t)
	h.CleanBuilt()
	project := "berth-" + h.App + "_db"
	t.Cleanup(func() {
		_ = exec.Command("docker", "compose", "-p", project, "down", "--remove-orphans", "--volumes").Run()
	})
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+id.Recipient().String()+"]\n")
	h.Repo.Write("apps/"+h.App+"/db/compose.yml", fmt.Sprintf("services:\n  web:\n    image: %s\n    environment:\n      DATA_FILE: /data/value\n"+
		"    ports: [\"127.0.0.1::8080\"]\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n", h.Image))
	h.Workload("db", "source:\n  type: compose\n  file: db/compose.yml\nvolumes:\n  data:\n    backup: {schedule: \"@daily\", keep: {last: 3}}\n")
	a, _ := h.Start("db", agent.Options{BackupDir: t.TempDir(), BackupIdentities: []age.Identity{id}})
	ctx := context.Background()
	wid := h.ID("db")
	upstream := func() string {
		cs := h.Containers()[wid]
		require.Len(t, cs, 1)
		return fmt.Sprintf("127.0.0.1:%d", cs[0].HostPort)
	}
	const marker = "ROWS-OF-THE-PROJECT-5e02"
	putData(t, upstream(), marker)
	bs, err := a.Backup(ctx, wid, "data")
	require.NoError(t, err)
	require.Len(t, bs, 1)
	assert.Equal(t, project+"_data", bs[0].DockerName, "compose's own name for the volume")

	putData(t, upstream(), "rewritten")
	o, err := a.Restore(ctx, wid, "data", 0)
	require.NoError(t, err, o.Reason)
	assert.Equal(t, marker, getData(t, upstream()), "the project serves the snapshot's data again")
	out, err := exec.Command("docker", "volume", "ls", "-q", "--filter", "name="+project+"_data").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), fmt.Sprintf("%s_data-r%d", project, bs[0].ID), "a fresh generation")

	// The next tick keeps the generation in use.
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, marker, getData(t, upstream()))
	_ = agenttest.Rows
	t.Cleanup(func() {
		_ = exec.Command("docker", "volume", "rm", "-f", fmt.Sprintf("%s_data-r%d", project, bs[0].ID)).Run()
	})
}
