package agent_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/docker"
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
