package agent_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/client"
	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/internal/statedir"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/s3test"
)

// Backups to a real S3-compatible store; then the host is lost —
// containers, volume and state dir — and a fresh agent, given only the
// same target and the identity, lists the snapshot and restores it: the
// workload serves the old data again. The store's credentials, a shared
// secret, never reach the container's env; no stored byte is plaintext.
func TestRestoreOnAFreshHostFromS3(t *testing.T) {
	store := s3test.Start(t)
	h := newHarness(t)
	h.CleanBuilt()
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	h.Repo.Write("berth.yaml", "secrets:\n  recipients: ["+rcpt+"]\nbackups:\n  s3_secret: BACKUP_S3\n")
	berthCLI(t, store.AccessKey+":"+store.SecretKey, "secrets", "set", "BACKUP_S3", "--dir", h.Repo.Dir)
	h.Workload("db", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  DATA_FILE: /data/value\n  SHOW_ENV: \"1\"\nport: 8080\nvolumes:\n  data: /data\n", h.Image))
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	opts := func() agent.Options {
		key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
		require.NoError(t, err)
		return agent.Options{Secrets: secrets.NewResolver(ids, nil, nil), SecretKey: key,
			BackupS3: store.URL("fleet"), BackupIdentities: ids}
	}
	a, st := h.Start("db", opts())
	ctx := context.Background()
	wid := h.ID("db")
	const marker = "ROWS-KEPT-IN-S3-71d2"
	putData(t, agenttest.Rows(t, st)[wid].Upstream, marker)
	env := envOf(t, agenttest.Rows(t, st)[wid].Upstream)
	assert.NotContains(t, env, "BACKUP_S3", "the agent's own secrets never reach a container")

	bs, err := a.Backup(ctx, wid, "")
	require.NoError(t, err)
	require.Len(t, bs, 1)
	evs := agenttest.Events(t, st, wid)
	assert.Contains(t, evs[len(evs)-1].Message, "to s3 "+store.Endpoint+"/"+store.Bucket+"/fleet")
	for o := range store.Client.ListObjects(ctx, store.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(t, o.Err)
		obj, err := store.Client.GetObject(ctx, store.Bucket, o.Key, minio.GetObjectOptions{})
		require.NoError(t, err)
		b, err := io.ReadAll(obj)
		require.NoError(t, err)
		assert.NotContains(t, string(b), marker, "nothing in the store is readable without the identity")
	}

	// The host is lost.
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	dockertest.RemoveContainers(t, cli, h.Name)
	agenttest.RemoveVolume(t, bs[0].DockerName)
	h.StateDir = t.TempDir()
	h.StateID, err = statedir.ID(h.StateDir)
	require.NoError(t, err)

	fresh, st2 := h.Agent(opts())
	_, err = fresh.Tick(ctx)
	require.NoError(t, err)
	assert.Contains(t, getData(t, agenttest.Rows(t, st2)[wid].Upstream), "no such file", "the fresh host starts on an empty volume")

	list, err := fresh.Backups(ctx, wid)
	require.NoError(t, err)
	require.Len(t, list, 1, "the fresh host lists the snapshot from the target alone")
	assert.Equal(t, bs[0].SHA256, list[0].SHA256)
	assert.Equal(t, bs[0].Commit, list[0].Commit)
	assert.NotZero(t, list[0].Release, "tied to this host's release of the same commit")

	o, err := fresh.Restore(ctx, wid, "data", 0)
	require.NoError(t, err, o.Reason)
	assert.Equal(t, marker, getData(t, agenttest.Rows(t, st2)[wid].Upstream), "restored from S3 on a fresh host")
}
