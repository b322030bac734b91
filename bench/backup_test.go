package bench

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/testkit/dockertest"
)

// BenchmarkVolumeBackup backs up a 1 GiB volume (256 files of 4 MiB, half
// random bytes, half text: about 2:1 for zstd) the way `berth backup`
// does — the archive API, zstd, age, to a file — and, in the same run,
// `tar | zstd -3` of the same folder on the host. It prints both times,
// their ratio (goal ≤ 1.5×) and this process's peak RSS (goal < 100 MiB).
// Run it alone (the peak is the process's):
//
//	go test -run '^$' -bench BenchmarkVolumeBackup -benchtime 1x ./bench
func BenchmarkVolumeBackup(b *testing.B) {
	d := dockertest.Docker(b)
	img := dockertest.Image(b, "backup-bench")
	vol := "berth-bench-" + dockertest.AgentName(b)
	b.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", vol).Run() })
	ctx := context.Background()
	const files, size = 256, 4 << 20
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		rng := rand.New(rand.NewPCG(1, 2))
		const line = "INSERT INTO rows VALUES (1, 'berth', now());\n"
		text := []byte(strings.Repeat(line, size/2/len(line)+1))[:size/2]
		buf := make([]byte, size)
		for i := range files {
			for j := 0; j < size/2; j += 8 {
				v := rng.Uint64()
				for k := range 8 {
					buf[j+k] = byte(v >> (8 * k))
				}
			}
			copy(buf[size/2:], text)
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/part-%03d", i), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := tw.Write(buf); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	labels := map[string]string{docker.LabelAgent: "bench"}
	if err := d.VolumeUntar(ctx, vol, img, labels, pr); err != nil {
		b.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	mount, err := exec.Command("docker", "volume", "inspect", "--format", "{{.Mountpoint}}", vol).Output()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ResetTimer()
	var berthTook, hostTook time.Duration
	var sealedSize int64
	for range b.N {
		start := time.Now()
		rc, done, err := d.VolumeTar(ctx, vol, img, labels)
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "snapshot"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := backup.Seal(f, rc, []age.Recipient{id.Recipient()}); err != nil {
			b.Fatal(err)
		}
		rc.Close()
		done()
		st, _ := f.Stat()
		sealedSize = st.Size()
		f.Close()
		berthTook += time.Since(start)

		start = time.Now()
		host := exec.Command("sh", "-c", "tar -C \"$1\" -cf - . | zstd -3 -q > /dev/null", "sh", strings.TrimSpace(string(mount)))
		if out, err := host.CombinedOutput(); err != nil {
			b.Fatalf("tar | zstd: %v\n%s", err, out)
		}
		hostTook += time.Since(start)
	}
	b.StopTimer()
	n := time.Duration(b.N)
	b.Logf("1 GiB volume: berth backup %s (sealed %d MiB), tar | zstd -3 on the host %s: %.2f×; peak RSS %s",
		(berthTook / n).Round(time.Millisecond), sealedSize>>20, (hostTook / n).Round(time.Millisecond),
		float64(berthTook)/float64(hostTook), selfPeakRSS())
}

// selfPeakRSS is this process's peak resident set (VmHWM).
func selfPeakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
