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
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.RemoveImages()
	agenttest.RemoveBerth()
	os.Exit(code)
}

const (
	idleWorkloads  = 1000
	idleContainers = 300
)

// BenchmarkIdleTick measures a tick where nothing changed, at 1,000
// workloads (1,000 files, 1,000 state rows, 300 labelled containers; the
// other rows are workloads already marked missing, self-heal off): first
// as `berth sync` runs it (one docker ps -a per tick), then as the agent
// runs it, following Docker's event stream. It reports SQL statements,
// Docker API calls and milliseconds per tick, and the split between the
// git fetch, dockerd's answer and Berth's own work.
func BenchmarkIdleTick(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := agenttest.New(b)

	desired, commit := workers(b, h, idleWorkloads)
	a, st := h.Agent(agent.Options{SelfHeal: false})
	seedIdleState(b, h, st, desired, commit, idleContainers)
	if _, err := a.Tick(ctx); err != nil { // the first tick loads the config
		b.Fatal(err)
	}
	d := h.Docker
	idle := func() {
		if res, err := a.Tick(ctx); err != nil || !res.NoOp {
			b.Fatalf("tick was not idle: %v", err)
		}
	}
	fetch, list := probes(b, h, d)

	const listTicks = 20
	before := measure(st, d, listTicks, idle)
	a.Watch(ctx)
	for range 100 { // the view lists once it is subscribed (bounded: 10 s)
		c0 := d.Calls()
		idle()
		if d.Calls() == c0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ResetTimer()
	after := measure(st, d, 0, func() {
		for b.Loop() {
			idle()
		}
	})
	b.StopTimer()
	after.ticks = b.N
	b.ReportMetric(after.queries(), "sql-queries/tick")
	b.ReportMetric(after.calls(), "docker-calls/tick")
	b.ReportMetric(ms(after.perTick()), "ms/tick")
	fmt.Printf("idle tick at %d workloads, %d containers (git fetch %.1f ms, docker ps -a %.1f ms):\n", idleWorkloads, idleContainers, ms(fetch), ms(list))
	fmt.Printf("  listing each tick (sync): %.1f SQL, %.1f Docker calls, %.1f ms per tick, of which Berth's own work %.1f ms (%d ticks)\n",
		before.queries(), before.calls(), ms(before.perTick()), ms(before.perTick()-fetch-list), before.ticks)
	fmt.Printf("  following events (agent): %.1f SQL, %.1f Docker calls, %.1f ms per tick, of which Berth's own work %.1f ms (%d ticks)\n",
		after.queries(), after.calls(), ms(after.perTick()), ms(after.perTick()-fetch), after.ticks)
}

// workers writes n worker workloads (apps of 50) to the harness's config
// repo, pushes them, and returns them rendered.
func workers(b *testing.B, h *agenttest.Harness, n int) (*gitops.Desired, string) {
	for i := range n {
		h.Repo.Write(fmt.Sprintf("apps/app%02d/w%03d.yaml", i/50, i%50),
			fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  N: %q\n", h.Image, fmt.Sprint(i)))
	}
	commit := h.Repo.Push(fmt.Sprintf("%d workloads", n))
	desired, err := gitops.Load(h.Repo.Dir, "")
	if err != nil || len(desired.Workloads) != n {
		b.Fatalf("loading the bench config: %v (%d workloads)", err, len(desired.Workloads))
	}
	return desired, commit
}

// tickFigures are the totals over a run of idle ticks.
type tickFigures struct {
	ticks       int
	sql, docker int64
	elapsed     time.Duration
}

func (f tickFigures) queries() float64       { return float64(f.sql) / float64(f.ticks) }
func (f tickFigures) calls() float64         { return float64(f.docker) / float64(f.ticks) }
func (f tickFigures) perTick() time.Duration { return f.elapsed / time.Duration(f.ticks) }

// measure runs run (n ticks when n > 0) and counts what they cost.
func measure(st *store.Store, d *docker.Client, n int, run func()) tickFigures {
	q0, c0, t0 := st.Queries(), d.Calls(), time.Now()
	if n > 0 {
		for range n {
			run()
		}
	} else {
		run()
	}
	return tickFigures{ticks: n, sql: st.Queries() - q0, docker: d.Calls() - c0, elapsed: time.Since(t0)}
}

// probes times the parts of a tick that are not Berth's own work: the git
// server's answer to a fetch with no new commit, and dockerd's answer to
// the docker ps -a of the agent's containers.
func probes(b *testing.B, h *agenttest.Harness, d *docker.Client) (fetch, list time.Duration) {
	ctx := context.Background()
	repo, err := gitops.NewRepo(h.Repo.URL, "main", filepath.Join(h.StateDir, "repo"), gitops.Credentials{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 10
	t0 := time.Now()
	for range n {
		if _, err := d.List(ctx, h.Name); err != nil {
			b.Fatal(err)
		}
	}
	list = time.Since(t0) / n
	t0 = time.Now()
	for range n {
		if _, err := repo.Pull(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(t0) / n, list
}

// seedIdleState records every workload as applied; the first containers
// get a labelled (created, not started) container, the others are already
// missing.
func seedIdleState(b *testing.B, h *agenttest.Harness, st *store.Store, desired *gitops.Desired, commit string, containers int) {
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	b.Logf("creating %d containers...", containers)
	for i, w := range desired.Workloads {
		row := store.Runtime{WorkloadID: w.ID(), AppliedHash: w.Hash, Commit: commit, Strategy: "recreate",
			Status: store.StatusMissing, LastDeploy: store.DeploySucceeded, ContainerID: fmt.Sprintf("gone-%d", i)}
		if i < containers {
			created, err := cli.ContainerCreate(ctx, &container.Config{Image: h.Image, Labels: map[string]string{
				docker.LabelAgent: h.Name, docker.LabelWorkload: w.ID(), docker.LabelHash: w.Hash, docker.LabelCommit: commit,
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
