package bench

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/testkit/agenttest"
)

const usageWorkloads = 200

// BenchmarkUsageSample runs 200 containers and reports what the agent
// spends with resource sampling on: Docker calls and CPU per idle tick
// (goal: still 0 calls: ticks never sample), and the cost of one interval
// sample of all 200 (Docker calls, wall time, the agent's CPU time).
func BenchmarkUsageSample(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := agenttest.New(b)
	for i := range usageWorkloads {
		h.Repo.Write(fmt.Sprintf("apps/use%02d/w%03d.yaml", i/50, i%50),
			fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  N: %q\nresources: {memory: 32Mi}\n", h.Image, fmt.Sprint(i)))
	}
	h.Repo.Push("200 workloads")
	a, st := h.Agent(agent.Options{Parallel: 8, StatsInterval: time.Minute})
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	d := h.Docker
	a.Watch(ctx)
	for range 100 { // until the view serves ticks from memory (bounded: 10 s)
		c0 := d.Calls()
		if _, err := a.Tick(ctx); err != nil {
			b.Fatal(err)
		}
		if d.Calls() == c0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	idle := measure(st, d, 0, func() {
		cpu0 := cpu()
		for b.Loop() {
			if res, err := a.Tick(ctx); err != nil || !res.NoOp {
				b.Fatalf("tick was not idle: %v", err)
			}
		}
		b.ReportMetric(float64((cpu()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/tick")
	})
	b.StopTimer()
	idle.ticks = b.N
	b.ReportMetric(idle.calls(), "docker-calls/tick")

	a.SampleAll(ctx) // the first sample: CPU shares need a previous one
	c0, cpu0, t0 := d.Calls(), cpu(), time.Now()
	a.SampleAll(ctx)
	took, used, calls := time.Since(t0), cpu()-cpu0, d.Calls()-c0
	sampled := len(a.SampledUsage())
	fmt.Printf("resource sampling at %d running workloads:\n", usageWorkloads)
	fmt.Printf("  idle tick with sampling on: %.1f Docker calls, %.1f ms per tick (%d ticks)\n", idle.calls(), ms(idle.perTick()), idle.ticks)
	fmt.Printf("  one interval sample: %d workloads, %d Docker calls, %.0f ms wall, %.0f ms of the agent's CPU (every --stats-interval, default 2m)\n",
		sampled, calls, ms(took), ms(used))
	_ = agenttest.Rows
}
