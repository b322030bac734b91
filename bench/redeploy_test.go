package bench

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/internal/agenttest"
	"github.com/berthops/berth/sources"
)

// BenchmarkRedeployUnderLoad redeploys one routed workload b.N times
// (run it with -benchtime 20x) while 4 keep-alive clients send requests
// through the embedded proxy, once per strategy. It prints total and
// failed requests, p99 and max latency, the longest stretch without a
// successful answer, and the time from the new container's start to the
// route swap.
func BenchmarkRedeployUnderLoad(b *testing.B) {
	for _, strategy := range []string{"blue-green", "recreate"} {
		b.Run(strategy, func(b *testing.B) { redeployUnderLoad(b, strategy) })
	}
}

func redeployUnderLoad(b *testing.B, strategy string) {
	ctx := context.Background()
	h := agenttest.New(b)
	rt, proxy := h.EmbeddedRouter()
	host := h.Name + ".bench"
	write := func(version int) {
		h.Workload("web", fmt.Sprintf(`source:
  type: image
  image: %s
  deploy_strategy: %s
env:
  MESSAGE: "v%d"
port: 8080
route:
  hosts: [%s]
healthcheck:
  path: /healthz
  timeout: 10s
stop_grace_period: 2s
`, h.Image, strategy, version, host))
		h.Repo.Push(fmt.Sprintf("v%d", version))
	}
	write(0)
	// The engine's production defaults, not the test suite's short ones.
	a, _ := h.Agent(agent.Options{Router: rt, Engine: sources.EngineOptions{LivenessWindow: sources.DefaultLivenessWindow, Drain: sources.DefaultDrain}})
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}

	l := agenttest.StartLoad(proxy, host)
	var swaps []time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		b.StopTimer()
		write(i)
		b.StartTimer()
		res, err := a.Tick(ctx)
		if err != nil {
			b.Fatalf("redeploy %d: %v", i, err)
		}
		if t, ok := res.Timings[res.Deployed[0]]; ok && !t.Swapped.IsZero() {
			swaps = append(swaps, t.Swapped.Sub(t.Started))
		}
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	samples := l.Samples()
	var durs []time.Duration
	failed := 0
	var gap time.Duration
	var lastOK time.Time
	for _, s := range samples {
		durs = append(durs, s.Dur)
		if !s.OK {
			failed++
			continue
		}
		if !lastOK.IsZero() && s.At.Sub(lastOK) > gap {
			gap = s.At.Sub(lastOK)
		}
		lastOK = s.At
	}
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	sort.Slice(swaps, func(i, j int) bool { return swaps[i] < swaps[j] })
	p99 := durs[len(durs)*99/100]
	maxLat := durs[len(durs)-1]
	b.ReportMetric(float64(len(samples)), "requests")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(gap), "longest-gap-ms")
	fmt.Printf("%s: %d redeploys, %d requests, %d failed, p99 %.1f ms, max %.1f ms, longest gap %.0f ms, start→swap min %.0f / median %.0f / max %.0f ms\n",
		strategy, b.N, len(samples), failed, ms(p99), ms(maxLat), ms(gap),
		ms(swaps[0]), ms(swaps[len(swaps)/2]), ms(swaps[len(swaps)-1]))
}
