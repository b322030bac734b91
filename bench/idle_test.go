// Package bench holds Berth's benchmarks. They print figures; they assert
// nothing about time. Run them with `just bench` (or
// `go test -run '^$' -bench . ./bench`).
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/agenttest"
	"github.com/berthops/berth/internal/dockertest"
	"github.com/berthops/berth/sources"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.RemoveImages()
	os.Exit(code)
}

const (
	idleWorkloads  = 1000
	idleContainers = 300
)

// BenchmarkIdleTick measures a tick where nothing changed, at 1,000
// workloads (1,000 files, 1,000 state rows, 300 labelled containers; the
// other rows are workloads already marked missing, self-heal off). It
// reports SQL queries, Docker API calls and milliseconds per tick.
func BenchmarkIdleTick(b *testing.B) {
	ctx := context.Background()
	h := agenttest.New(b)

	// The config repo: 20 apps x 50 workers.
	for i := range idleWorkloads {
		h.Repo.Write(fmt.Sprintf("apps/app%02d/w%03d.yaml", i/50, i%50),
			fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  N: %q\n", h.Image, fmt.Sprint(i)))
	}
	commit := h.Repo.Push("1000 workloads")
	desired, err := gitops.Load(h.Repo.Dir, "")
	if err != nil || len(desired.Workloads) != idleWorkloads {
		b.Fatalf("loading the bench config: %v (%d workloads)", err, len(desired.Workloads))
	}
	a, st := h.Agent(agent.Options{SelfHeal: false})
	seedIdleState(b, h, st, desired, commit)
	if _, err := a.Tick(ctx); err != nil { // the first tick loads the config
		b.Fatal(err)
	}
	d := h.Docker
	repo, err := gitops.NewRepo(h.Repo.URL, "main", filepath.Join(h.StateDir, "repo"), gitops.Credentials{})
	if err != nil {
		b.Fatal(err)
	}
	name := h.Name

	q0, c0 := st.Queries(), d.Calls()
	start := time.Now()
	b.ResetTimer()
	for b.Loop() {
		res, err := a.Tick(ctx)
		if err != nil || !res.NoOp {
			b.Fatalf("tick was not idle: %v", err)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	elapsed := time.Since(start)
	queries, calls := float64(st.Queries()-q0)/n, float64(d.Calls()-c0)/n
	b.ReportMetric(queries, "sql-queries/tick")
	b.ReportMetric(calls, "docker-calls/tick")
	b.ReportMetric(float64(elapsed.Microseconds())/1000/n, "ms/tick")
	// The parts that are not Berth's own work: the daemon's answer to the
	// one `docker ps -a` and the git server's answer to the one fetch.
	const probes = 10
	t0 := time.Now()
	for range probes {
		if _, err := d.List(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	list := time.Since(t0) / probes
	t0 = time.Now()
	for range probes {
		if _, err := repo.Pull(ctx); err != nil {
			b.Fatal(err)
		}
	}
	fetch := time.Since(t0) / probes
	perTick := elapsed / time.Duration(b.N)
	fmt.Printf("idle tick at %d workloads, %d containers: %.1f SQL queries, %.1f Docker calls, %.1f ms per tick (%d ticks)\n",
		idleWorkloads, idleContainers, queries, calls, ms(perTick), b.N)
	fmt.Printf("  of which dockerd answering the one docker ps -a: %.1f ms; the git fetch (no new commit): %.1f ms; Berth's own work: %.1f ms\n",
		ms(list), ms(fetch), ms(perTick-list-fetch))
}

// seedIdleState records every workload as applied; the first
// idleContainers get a labelled container, the others are already missing.
func seedIdleState(b *testing.B, h *agenttest.Harness, st *store.Store, desired *gitops.Desired, commit string) {
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	b.Logf("creating %d containers...", idleContainers)
	for i, w := range desired.Workloads {
		row := store.Runtime{WorkloadID: w.ID(), AppliedHash: w.Hash, Commit: commit, Strategy: "recreate",
			Status: store.StatusMissing, LastDeploy: store.DeploySucceeded, ContainerID: fmt.Sprintf("gone-%d", i)}
		if i < idleContainers {
			created, err := cli.ContainerCreate(ctx, &container.Config{Image: h.Image, Labels: map[string]string{
				sources.LabelAgent: h.Name, sources.LabelWorkload: w.ID(), sources.LabelHash: w.Hash, sources.LabelCommit: commit,
			}}, nil, nil, nil, fmt.Sprintf("%s-%d", h.Name, i))
			if err != nil {
				b.Fatal(err)
			}
			row.ContainerID, row.Status = created.ID, "created"
		}
		if err := st.PutRuntime(ctx, row); err != nil {
			b.Fatal(err)
		}
	}
}
