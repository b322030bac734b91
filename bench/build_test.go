package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/berthops/berth/testkit/agenttest"
)

// siteMiB is the size of the site and of the build context: big enough
// that holding either in memory would show in the peak.
const siteMiB = 64

// BenchmarkBuildFootprint runs `berth sync` (the static binary, as
// shipped) on a repo with a 64 MiB static site and a dockerfile workload
// with a 64 MiB context, and prints the process's peak RSS and the size of
// the site image (the site plus berth-site).
func BenchmarkBuildFootprint(b *testing.B) {
	h := agenttest.New(b)
	h.CleanBuilt()
	app := "apps/" + h.App
	for i := range siteMiB / 16 {
		writeRandom(b, filepath.Join(h.Repo.Dir, app, "site", fmt.Sprintf("blob%d.bin", i)), 16<<20)
		writeRandom(b, filepath.Join(h.Repo.Dir, app, "api", fmt.Sprintf("blob%d.bin", i)), 16<<20)
	}
	h.Repo.Write(app+"/site/index.html", "<h1>site</h1>\n")
	h.Repo.Write(app+"/site.yaml", "source:\n  type: static\n  dir: site\nport: 8080\n")
	h.Repo.Write(app+"/api/Dockerfile", "FROM "+h.Image+"\nCOPY . /data\n")
	h.Repo.Write(app+"/api.yaml", "source:\n  type: dockerfile\n  context: api\n  deploy_strategy: recreate\nport: 8080\n")
	h.Repo.Push("a big site and a big build context")

	cmd := exec.Command(agenttest.Berth(b), "sync", "--repo", h.Repo.URL, "--state-dir", h.StateDir, "--agent-name", h.Name,
		"--router", "none", "--status-branch", "", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	peak := peakRSS(b, cmd)
	site := imageMiB(b, "berth/"+h.App+"_site")
	for b.Loop() { // the figures come from one sync
	}
	b.ReportMetric(peak, "peak-rss-MiB")
	b.ReportMetric(site-siteMiB, "site-image-overhead-MiB")
	fmt.Printf("berth sync building a %d MiB static site and a %d MiB dockerfile context: peak RSS %.1f MiB; site image %.1f MiB (%.1f MiB besides the site)\n",
		siteMiB, siteMiB, peak, site, site-siteMiB)
}

// peakRSS runs cmd and returns its own peak resident memory (MiB):
// VmHWM, read until it exits (rusage's maxrss would also count the
// children it runs).
func peakRSS(b *testing.B, cmd *exec.Cmd) float64 {
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peak := 0.0
	for {
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("%s: %v", cmd.Args[1], err)
			}
			return peak
		case <-time.After(50 * time.Millisecond):
			if _, hwm, _ := procMemory(b, cmd.Process.Pid); hwm > peak {
				peak = hwm
			}
		}
	}
}

func writeRandom(b *testing.B, path string, size int) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, size)
	_, _ = rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

// imageMiB is the size of the image built for a workload repository.
func imageMiB(b *testing.B, repo string) float64 {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	imgs, err := cli.ImageList(context.Background(), image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", repo+":*"))})
	if err != nil || len(imgs) != 1 {
		b.Fatalf("finding the image of %s: %v (%d images)", repo, err, len(imgs))
	}
	return float64(imgs[0].Size) / (1 << 20)
}

// BenchmarkBinarySize prints the size of berth and berth-site as shipped
// (scripts/build's flags, which the tests build with).
func BenchmarkBinarySize(b *testing.B) {
	size := func(path string) float64 {
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return float64(st.Size()) / 1e6
	}
	berth, site := size(agenttest.Berth(b)), size(agenttest.SiteServer(b))
	for b.Loop() {
	}
	b.ReportMetric(berth, "berth-MB")
	fmt.Printf("berth %.1f MB, berth-site %.1f MB (as shipped: scripts/build)\n", berth, site)
}
