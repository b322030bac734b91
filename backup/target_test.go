package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/testkit/s3test"
)

func manifest(volume string, at time.Time) backup.Manifest {
	return backup.Manifest{Object: backup.ObjectName("shop_db", volume, at), Workload: "shop/db", Volume: volume,
		DockerName: "berth-shop_db_" + volume, Agent: "a1", Release: 3, Commit: strings.Repeat("ab", 20), CreatedAt: at.UTC()}
}

func sealWith(plain []byte, id *age.X25519Identity) func(io.Writer) (backup.Sum, error) {
	return func(w io.Writer) (backup.Sum, error) {
		return backup.Seal(w, bytes.NewReader(plain), []age.Recipient{id.Recipient()})
	}
}

// checkTarget is what every target promises: a snapshot comes back byte
// for byte with its manifest, is listed only once complete, is never
// readable without the identity, and a truncated copy is refused.
func checkTarget(t *testing.T, tg backup.Target, stored func() [][]byte, truncate func(object string)) {
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	plain := tarOf(t, map[string]string{"data.txt": strings.Repeat(marker+"\n", 5000)})
	at := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)

	m, err := tg.Put(ctx, manifest("data", at), sealWith(plain, id))
	require.NoError(t, err)
	assert.Equal(t, int64(len(plain)), m.Size)

	// An upload that fails midway — after more than one S3 part — leaves
	// nothing listed.
	_, err = tg.Put(ctx, manifest("data", at.Add(time.Hour)), func(w io.Writer) (backup.Sum, error) {
		if _, err := io.CopyN(w, rand.Reader, 40<<20); err != nil {
			return backup.Sum{}, err
		}
		return backup.Sum{}, errors.New("the volume went away")
	})
	require.ErrorContains(t, err, "the volume went away")

	list, err := tg.List(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list, 1, "only the complete snapshot is listed")
	assert.Equal(t, m, list[0], "the manifest holds workload, volume, release, commit, time, size and sha256")
	none, err := tg.List(ctx, func(o string) bool { return o == m.Object })
	require.NoError(t, err)
	assert.Empty(t, none, "a known snapshot's manifest is not read again")

	r, err := tg.Open(ctx, m.Object)
	require.NoError(t, err)
	var got bytes.Buffer
	require.NoError(t, backup.Open(&got, r, []age.Identity{id}, m.Sum))
	r.Close()
	assert.Equal(t, plain, got.Bytes(), "restored byte for byte")

	for _, b := range stored() {
		assert.NotContains(t, string(b), marker, "no stored byte holds the plaintext")
	}

	truncate(m.Object)
	r, err = tg.Open(ctx, m.Object)
	require.NoError(t, err)
	err = backup.Open(io.Discard, r, []age.Identity{id}, m.Sum)
	r.Close()
	assert.ErrorIs(t, err, backup.ErrCorrupt, "a truncated snapshot is refused")

	require.NoError(t, tg.Remove(ctx, m.Object))
	list, err = tg.List(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestDirTarget(t *testing.T) {
	root := t.TempDir()
	tg := backup.Dir{Root: root}
	checkTarget(t, tg, func() (out [][]byte) {
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				b, _ := os.ReadFile(p)
				out = append(out, b)
			}
			return nil
		})
		return out
	}, func(object string) {
		p := filepath.Join(root, filepath.FromSlash(object))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(p, fi.Size()/2))
	})
	left, err := filepath.Glob(filepath.Join(root, "*", ".partial-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file is left behind")
}

// A full disk is a clear error, and nothing of the snapshot stays.
func TestDirTargetFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mounting a small tmpfs (CI runs as root): %v %s", err, out)
		}
		t.Skipf("cannot mount a small tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	tg := backup.Dir{Root: dir}
	_, err = tg.Put(context.Background(), manifest("data", time.Now()), func(w io.Writer) (backup.Sum, error) {
		return backup.Seal(w, io.LimitReader(rand.Reader, 4<<20), []age.Recipient{id.Recipient()})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no space left on device")
	list, err := tg.List(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, list)
	left, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	assert.Empty(t, left, "nothing of the snapshot is left")
}

func TestS3Target(t *testing.T) {
	s := s3test.Start(t)
	tg, err := backup.NewS3(s.URL("host-a"), s.AccessKey, s.SecretKey, backup.S3Options{})
	require.NoError(t, err)
	ctx := context.Background()
	checkTarget(t, tg, func() (out [][]byte) {
		for o := range s.Client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			require.NoError(t, o.Err)
			obj, err := s.Client.GetObject(ctx, s.Bucket, o.Key, minio.GetObjectOptions{})
			require.NoError(t, err)
			b, err := io.ReadAll(obj)
			require.NoError(t, err)
			out = append(out, b)
		}
		require.NotEmpty(t, out)
		// And on the store's own disk.
		filepath.WalkDir(s.Dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				b, _ := os.ReadFile(p)
				out = append(out, b)
			}
			return nil
		})
		return out
	}, func(object string) {
		obj, err := s.Client.GetObject(ctx, s.Bucket, "host-a/"+object, minio.GetObjectOptions{})
		require.NoError(t, err)
		b, err := io.ReadAll(obj)
		require.NoError(t, err)
		_, err = s.Client.PutObject(ctx, s.Bucket, "host-a/"+object, bytes.NewReader(b[:len(b)/2]), int64(len(b)/2), minio.PutObjectOptions{})
		require.NoError(t, err)
	})
	for u := range s.Client.ListIncompleteUploads(ctx, s.Bucket, "", true) {
		t.Errorf("an interrupted upload was left behind: %s", u.Key)
	}

	// Wrong credentials: a clear error that says where to look and never
	// echoes the secret.
	bad, err := backup.NewS3(s.URL("host-a"), s.AccessKey, "not-the-secret-7c1d", backup.S3Options{Retries: 1})
	require.NoError(t, err)
	_, err = bad.Put(ctx, manifest("data", time.Now()), sealWith([]byte("x"), mustIdentity(t)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backups.s3_secret")
	assert.NotContains(t, err.Error(), "not-the-secret-7c1d")

	// A store that went away: the error names the target.
	s.Stop()
	_, err = tg.Put(ctx, manifest("data", time.Now()), sealWith([]byte("x"), mustIdentity(t)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), s.Endpoint)
}

// A store that accepts connections and never answers fails the backup at
// the idle deadline instead of hanging it.
func TestS3TargetThatHangs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	tg, err := backup.NewS3("http://"+l.Addr().String()+"/bucket", "k", "s", backup.S3Options{Idle: 300 * time.Millisecond, Retries: 1})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard, not the deadline under test
	defer cancel()
	_, err = tg.Put(ctx, manifest("data", time.Now()), sealWith([]byte("x"), mustIdentity(t)))
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "the target's own deadline ended the upload")
	assert.Contains(t, err.Error(), "timeout")
}

func mustIdentity(t *testing.T) *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	return id
}

func TestParseS3URL(t *testing.T) {
	for raw, want := range map[string][4]string{
		"https://s3.example.com/backups":           {"s3.example.com", "true", "backups", ""},
		"http://127.0.0.1:9000/b/host-a/nightly":   {"127.0.0.1:9000", "false", "b", "host-a/nightly/"},
		"s3://my-bucket/berth?region=eu-central-1": {"s3.amazonaws.com", "true", "my-bucket", "berth/"},
	} {
		ep, secure, bucket, prefix, _, err := backup.ParseS3URL(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want, [4]string{ep, map[bool]string{true: "true", false: "false"}[secure], bucket, prefix}, raw)
	}
	for _, raw := range []string{"ftp://x/b", "https://key:secret@s3.example.com/b", "https://s3.example.com/", "s3://"} {
		_, _, _, _, _, err := backup.ParseS3URL(raw)
		assert.Error(t, err, raw)
	}
}
