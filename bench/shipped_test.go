package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/testkit/agenttest"
)

// BenchmarkShippedBuild runs the same work with berth as shipped
// (scripts/build's flags) and with a plain `go build`, in one run, so a
// flag that slows the program down shows: validating a repo of 1,000
// workloads (YAML, hashing), and reading the Activity of a workload and
// its Errors from a 1M-event log (SQLite).
func BenchmarkShippedBuild(b *testing.B) {
	ctx := context.Background()
	shipped := agenttest.Berth(b)
	plain := filepath.Join(b.TempDir(), "berth-plain")
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", plain, "./cmd/berth")
	build.Dir = filepath.Join(filepath.Dir(file), "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("plain build: %v\n%s", err, out)
	}
	repo := b.TempDir()
	for i := range idleWorkloads {
		dir := filepath.Join(repo, "apps", fmt.Sprintf("app%02d", i%50))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		spec := fmt.Sprintf("source:\n  type: image\n  image: registry.example.com/app:%d\nport: 8080\nroute:\n  hosts: [w%d.example.com]\nenv:\n  N: \"%d\"\n", i, i, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("w%d.yaml", i)), []byte(spec), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	state := b.TempDir()
	st, err := store.Open(ctx, filepath.Join(state, "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	_ = st.Close()
	if err := fillEvents(ctx, filepath.Join(state, "berth.db")); err != nil {
		b.Fatal(err)
	}
	work := []struct {
		name string
		args []string
	}{
		{"validate (1,000 workloads)", []string{"validate", repo}},
		{"events (1,000 of 1M)", []string{"events", "--state-dir", state, "--workload", "app/w007", "--limit", "1000", "--json"}},
		{"events --severity error", []string{"events", "--state-dir", state, "--workload", "app/w007", "--severity", "error", "--limit", "1000", "--json"}},
	}
	for b.Loop() {
		for _, w := range work {
			s, pl := timeCmd(b, shipped, w.args, 5), timeCmd(b, plain, w.args, 5)
			fmt.Printf("berth %-28s shipped %7.1f ms, plain %7.1f ms (%.2fx)\n", w.name, ms(s), ms(pl), float64(s)/float64(pl))
		}
	}
}

// timeCmd is the best of n runs of bin with args.
func timeCmd(b *testing.B, bin string, args []string, n int) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range n {
		t := time.Now()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", bin, args, err, out)
		}
		best = min(best, time.Since(t))
	}
	return best
}
