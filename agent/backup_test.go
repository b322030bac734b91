package agent_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
)

// A volume on a real dockerd backs up through the archive API (a helper
// container that is never started), seals to a file nobody without the
// identity can read, and restores byte-identical into a fresh volume
// after the original is gone.
func TestVolumeBackupRoundTrip(t *testing.T) {
	d := dockertest.Docker(t)
	img := dockertest.Image(t, "backup")
	name := dockertest.AgentName(t)
	vol, fresh := "berth-test-"+name+"-data", "berth-test-"+name+"-data-g2"
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", vol, fresh).Run() })
	labels := map[string]string{docker.LabelAgent: name}
	ctx := context.Background()
	const marker = "PLAINTEXT-MARKER-93be"
	files := map[string]string{
		"db/table.dat":   strings.Repeat(marker+"\n", 5000),
		"db/empty":       "",
		"config/app.ini": "[app]\nmode = production\n",
	}
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o640, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, d.VolumeUntar(ctx, vol, img, labels, &in))

	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	sealedPath := filepath.Join(t.TempDir(), "snapshot.tar.zst.age")
	f, err := os.Create(sealedPath)
	require.NoError(t, err)
	rc, done, err := d.VolumeTar(ctx, vol, img, labels)
	require.NoError(t, err)
	sum, err := backup.Seal(f, rc, []age.Recipient{id.Recipient()})
	rc.Close()
	done()
	require.NoError(t, err)
	require.NoError(t, f.Close())
	stored, err := os.ReadFile(sealedPath)
	require.NoError(t, err)
	assert.NotContains(t, string(stored), marker, "no plaintext byte is stored")

	require.NoError(t, exec.Command("docker", "volume", "rm", vol).Run(), "the original is gone")
	sealed, err := os.Open(sealedPath)
	require.NoError(t, err)
	defer sealed.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(backup.Open(pw, sealed, []age.Identity{id}, sum)) }()
	require.NoError(t, d.VolumeUntar(ctx, fresh, img, labels, pr))

	rc, done, err = d.VolumeTar(ctx, fresh, img, labels)
	require.NoError(t, err)
	defer done()
	got := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			got[strings.TrimPrefix(h.Name, "./")] = string(b)
		}
	}
	rc.Close()
	assert.Equal(t, files, got, "restored byte-identical")
}

// Back up a workload's volume with known content, overwrite the data,
// restore the snapshot: the workload serves the old data again, from a
// fresh generation of the volume, through the recreate path. A truncated
// snapshot is refused before anything changes.
func TestBackupAndRestoreAWorkloadsVolume(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+id.Recipient().String()+"]\n")
	h.Workload("db", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  DATA_FILE: /data/value\nport: 8080\nvolumes:\n  data: /data\n", h.Image))
	backups := t.TempDir()
	a, st := h.Start("db", agent.Options{BackupDir: backups, BackupIdentities: []age.Identity{id}})
	ctx := context.Background()
	wid := h.ID("db")
	upstream := func() string { return agenttest.Rows(t, st)[wid].Upstream }
	const marker = "ROWS-OF-THE-FIRST-VERSION-0c41"
	putData(t, upstream(), marker)

	bs, err := a.Backup(ctx, wid, "")
	require.NoError(t, err)
	require.Len(t, bs, 1)
	assert.Equal(t, "data", bs[0].Volume)
	loc := filepath.Join(backups, bs[0].Location)
	sealed, err := os.ReadFile(loc)
	require.NoError(t, err)
	assert.NotContains(t, string(sealed), marker, "nothing readable without the identity")
	assert.True(t, agenttest.Rows(t, st)[wid].Status == "running", "the container runs again after the copy")

	putData(t, upstream(), "a migration rewrote this")
	before := agenttest.Rows(t, st)[wid].ContainerID

	// A damaged copy is refused, and nothing changes.
	damaged := filepath.Join(backups, "damaged")
	require.NoError(t, os.WriteFile(damaged, sealed[:len(sealed)/2], 0o600))
	require.NoError(t, os.Rename(loc, loc+".whole"))
	require.NoError(t, os.Rename(damaged, loc))
	_, err = a.Restore(ctx, wid, "data", 0)
	require.ErrorIs(t, err, backup.ErrCorrupt)
	assert.Equal(t, before, agenttest.Rows(t, st)[wid].ContainerID)
	assert.Equal(t, "a migration rewrote this", getData(t, upstream()))
	require.NoError(t, os.Rename(loc+".whole", loc))

	o, err := a.Restore(ctx, wid, "data", bs[0].ID)
	require.NoError(t, err, o.Reason)
	row := agenttest.Rows(t, st)[wid]
	assert.NotEqual(t, before, row.ContainerID, "redeployed on the restored generation")
	assert.Equal(t, marker, getData(t, row.Upstream), "the data of the snapshot serves again")
	evs := agenttest.Events(t, st, wid)
	assert.Equal(t, "backup.restored", evs[len(evs)-1].Kind)

	// The next tick keeps the restored generation.
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, marker, getData(t, agenttest.Rows(t, st)[wid].Upstream))
}

// snapshot_before_deploy and on_failure: restore-data: a migration
// (before_deploy) rewrites the data, then the new version fails its gate;
// the old version serves again on the pre-deploy data, and the event says
// so. The failed version is held, not tried again.
func TestRestoreDataAfterAFailedMigration(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+id.Recipient().String()+"]\n")
	db := func(extraEnv, extra string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  DATA_FILE: /data/value\n%sport: 8080\nvolumes:\n  data: /data\n"+
			"healthcheck:\n  path: /healthz\n  timeout: 3s\nsnapshot_before_deploy: true\non_failure: restore-data\n%s", h.Image, extraEnv, extra)
	}
	h.Workload("db", db("", ""))
	a, st := h.Start("v1", agent.Options{BackupDir: t.TempDir(), BackupIdentities: []age.Identity{id}})
	ctx := context.Background()
	wid := h.ID("db")
	v1 := agenttest.Rows(t, st)[wid]
	putData(t, v1.Upstream, "rows of v1")

	h.Workload("db", db("  NEVER_READY: \"1\"\n  TASK_WRITE: /data/value=rows rewritten by v2\n", "before_deploy:\n  command: [task, \"0\", \"0\"]\n"))
	h.Repo.Push("v2 migrates, then never gets ready")
	_, err = a.Tick(ctx)
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	row := agenttest.Rows(t, st)[wid]
	assert.Equal(t, "rows of v1", getData(t, row.Upstream), "the pre-deploy data serves again")
	assert.Equal(t, v1.Commit, row.Commit, "v1 serves")
	evs := agenttest.Events(t, st, wid)
	var failed string
	for _, e := range evs {
		if e.Kind == string(agent.KindDeployRolledBack) || e.Kind == string(agent.KindDeployFailed) {
			failed = e.Message
		}
	}
	assert.Contains(t, failed, "pre-deploy data was restored")
	bs, err := a.Backups(ctx, wid)
	require.NoError(t, err)
	require.Len(t, bs, 1, "one pre-deploy snapshot")
	assert.Equal(t, v1.Commit, bs[0].Commit, "it holds the serving release's data")

	res, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Empty(t, res.Deployed, "the failed version is held")
	assert.Equal(t, "rows of v1", getData(t, agenttest.Rows(t, st)[wid].Upstream))
}

// berth rollback --with-data to a release two deploys back: the volume
// gets the newest snapshot taken while that release served, and the
// release runs on it.
func TestRollbackWithData(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+id.Recipient().String()+"]\n")
	db := func(msg string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  DATA_FILE: /data/value\n  MESSAGE: %s\nport: 8080\nvolumes:\n  data: /data\n", h.Image, msg)
	}
	h.Workload("db", db("v1"))
	a, st := h.Start("v1", agent.Options{BackupDir: t.TempDir(), BackupIdentities: []age.Identity{id}})
	ctx := context.Background()
	wid := h.ID("db")
	v1 := agenttest.Rows(t, st)[wid]
	putData(t, v1.Upstream, "schema of v1")
	_, err = a.Backup(ctx, wid, "")
	require.NoError(t, err)
	commits := map[string]string{}
	for _, v := range []string{"v2", "v3"} {
		h.Workload("db", db(v))
		commits[v] = h.Repo.Push(v)
		_, err := a.Tick(ctx)
		require.NoError(t, err)
		putData(t, agenttest.Rows(t, st)[wid].Upstream, "schema of "+v)
	}

	_, err = a.RollbackWith(ctx, wid, v1.Commit[:7], true)
	require.NoError(t, err)
	row := agenttest.Rows(t, st)[wid]
	assert.Equal(t, v1.Commit, row.Commit)
	assert.Equal(t, "schema of v1", getData(t, row.Upstream), "v1 runs on v1's data")
	assert.Contains(t, agenttest.Get(t, row.Upstream), "v1")

	// Without a snapshot taken while that release served, it refuses
	// before anything changes.
	_, err = a.RollbackWith(ctx, wid, commits["v2"][:7], true)
	require.ErrorIs(t, err, agent.ErrNoSnapshot)
	assert.Equal(t, row.ContainerID, agenttest.Rows(t, st)[wid].ContainerID)
}

// A volume's scheduled backups run on the agent's clock and keep what the
// retention says (keep: last 2): older snapshots, files and records, go.
func TestScheduledBackupsAndRetention(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+id.Recipient().String()+"]\n")
	h.Workload("db", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  DATA_FILE: /data/value\nport: 8080\n"+
		"volumes:\n  data:\n    path: /data\n    backup: {schedule: \"@every 1h\", keep: {last: 2}}\n", h.Image))
	clk := newClock()
	dir := t.TempDir()
	a, st := h.Start("db", agent.Options{BackupDir: dir, BackupIdentities: []age.Identity{id}, Now: clk.Now})
	ctx := context.Background()
	wid := h.ID("db")
	for i := range 4 {
		putData(t, agenttest.Rows(t, st)[wid].Upstream, fmt.Sprintf("hour %d", i))
		clk.Add(61 * time.Minute)
		a.RunDueJobs(ctx)
		a.WaitJobs()
	}
	bs, err := a.Backups(ctx, wid)
	require.NoError(t, err)
	require.Len(t, bs, 2, "keep: last 2")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.age"))
	require.NoError(t, err)
	assert.Len(t, files, 2, "expired snapshots' files are gone")
	for _, b := range bs {
		assert.FileExists(t, filepath.Join(dir, b.Location))
	}
	assert.Greater(t, bs[0].ID, bs[1].ID)

	// /metrics: the newest snapshot's time and size, per volume.
	mfs, err := a.Metrics().Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "berth_backup_last_") {
			for _, m := range mf.GetMetric() {
				got[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	assert.Equal(t, float64(bs[0].CreatedAt.Unix()), got["berth_backup_last_success_timestamp_seconds"])
	assert.Equal(t, float64(bs[0].Size), got["berth_backup_last_size_bytes"])
}

// consistency: stop stops the container for the copy and starts it again;
// the next tick routes to it on its new port, and the data is intact.
func TestBackupConsistencyStop(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+id.Recipient().String()+"]\n")
	h.Workload("db", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  DATA_FILE: /data/value\nport: 8080\n"+
		"volumes:\n  data:\n    path: /data\n    backup: {schedule: \"@daily\", consistency: stop}\n", h.Image))
	a, st := h.Start("db", agent.Options{BackupDir: t.TempDir(), BackupIdentities: []age.Identity{id}})
	ctx := context.Background()
	wid := h.ID("db")
	putData(t, agenttest.Rows(t, st)[wid].Upstream, "kept")
	_, err = a.Backup(ctx, wid, "")
	require.NoError(t, err)
	evs := agenttest.Events(t, st, wid)
	assert.Contains(t, evs[len(evs)-1].Message, "consistency: stop")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	row := agenttest.Rows(t, st)[wid]
	assert.Equal(t, "running", row.Status)
	assert.Equal(t, "kept", getData(t, row.Upstream))
}
