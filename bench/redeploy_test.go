package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/testkit/agenttest"
)

// BenchmarkRedeployUnderLoad redeploys one routed workload b.N times
// (run it with -benchtime 20x) while 4 keep-alive clients send requests
// through the embedded proxy, once per strategy, and once for a server
// without a healthcheck that boots for 7 s before it listens. It prints
// total and failed requests, p99 and max latency, the longest stretch
// without a successful answer, and the time from the new container's
// start to the route swap.
func BenchmarkRedeployUnderLoad(b *testing.B) {
	const probe = "healthcheck:\n  path: /healthz\n  timeout: 10s\n"
	for _, v := range []struct{ name, strategy, extra string }{
		{"blue-green", "blue-green", probe},
		{"recreate", "recreate", probe},
		{"blue-green-no-healthcheck-listening-after-7s", "blue-green", "  LISTEN_DELAY: 7s\n"},
	} {
		b.Run(v.name, func(b *testing.B) { redeployUnderLoad(b, v.name, v.strategy, v.extra) })
	}
}

func redeployUnderLoad(b *testing.B, name, strategy, extra string) {
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
%sport: 8080
route:
  hosts: [%s]
stop_grace_period: 2s
`, h.Image, strategy, version, extra, host))
		h.Repo.Push(fmt.Sprintf("v%d", version))
	}
	write(0)
	// The engine's production defaults, not the test suite's short ones.
	a, _ := h.Agent(agent.Options{Router: rt, Engine: engine.Options{LivenessWindow: engine.DefaultLivenessWindow, Drain: engine.DefaultDrain}})
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}

	l := agenttest.StartLoad(proxy, host)
	var swaps []time.Duration
	var gcBefore runtime.MemStats
	runtime.ReadMemStats(&gcBefore)
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
	failed, gap, durs := l.Stats()
	samples := durs
	// The proxy, the agent and the load share this process: its GC pauses
	// are part of every request's latency, so print them beside the tail.
	var gcAfter runtime.MemStats
	runtime.ReadMemStats(&gcAfter)
	var maxPause time.Duration
	for i := gcBefore.NumGC; i < gcAfter.NumGC && i < gcBefore.NumGC+256; i++ {
		maxPause = max(maxPause, time.Duration(gcAfter.PauseNs[(i+255)%256]))
	}
	fmt.Printf("%s: %d GCs during the run, longest stop-the-world pause %.2f ms\n", name, gcAfter.NumGC-gcBefore.NumGC, ms(maxPause))
	sort.Slice(swaps, func(i, j int) bool { return swaps[i] < swaps[j] })
	p99 := durs[len(durs)*99/100]
	maxLat := durs[len(durs)-1]
	b.ReportMetric(float64(len(samples)), "requests")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(gap), "longest-gap-ms")
	fmt.Printf("%s: %d redeploys, %d requests, %d failed, p99 %.1f ms, max %.1f ms, longest gap %.0f ms, start→swap min %.0f / median %.0f / max %.0f ms\n",
		name, b.N, len(samples), failed, ms(p99), ms(maxLat), ms(gap),
		ms(swaps[0]), ms(swaps[len(swaps)/2]), ms(swaps[len(swaps)-1]))
}

// BenchmarkFailedRecreateUnderLoad deploys, b.N times, a new version that
// never gets ready with the recreate strategy, under the same 4-client
// load: the old version is stopped, the new one fails its gate (3 s), and
// the old one is started again and routed to. It prints the failed
// requests, the longest stretch without an answer, and the time from the
// failure to the old version serving again.
func BenchmarkFailedRecreateUnderLoad(b *testing.B) {
	ctx := context.Background()
	h := agenttest.New(b)
	rt, proxy := h.EmbeddedRouter()
	host := h.Name + ".bench"
	write := func(version int, bad bool) {
		env := ""
		if bad {
			env = "  NEVER_READY: \"1\"\n"
		}
		h.Workload("web", fmt.Sprintf("source:\n  type: image\n  image: %s\n  deploy_strategy: recreate\nenv:\n  MESSAGE: \"v%d\"\n%sport: 8080\nroute:\n  hosts: [%s]\nhealthcheck:\n  path: /healthz\n  timeout: 3s\nstop_grace_period: 2s\n", h.Image, version, env, host))
		h.Repo.Push(fmt.Sprintf("v%d", version))
	}
	write(0, false)
	a, _ := h.Agent(agent.Options{Router: rt, Engine: engine.Options{LivenessWindow: engine.DefaultLivenessWindow, Drain: engine.DefaultDrain}})
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	l := agenttest.StartLoad(proxy, host)
	var restore []time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		b.StopTimer()
		write(i, true)
		b.StartTimer()
		res, err := a.Tick(ctx)
		if !errors.Is(err, agent.ErrDeployFailed) {
			b.Fatalf("deploy %d: want a failure, got %v", i, err)
		}
		if t := res.Timings[res.Failed[0]]; !t.Restored.IsZero() {
			restore = append(restore, t.Restored.Sub(t.Failed))
		}
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	failed, gap, samples := l.Stats()
	sort.Slice(restore, func(i, j int) bool { return restore[i] < restore[j] })
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(ms(gap), "longest-gap-ms")
	fmt.Printf("failed recreate (never ready, 3 s gate): %d deploys, %d requests, %d failed, longest gap %.0f ms, failure→old serving min %.0f / median %.0f / max %.0f ms\n",
		b.N, len(samples), failed, ms(gap), ms(restore[0]), ms(restore[len(restore)/2]), ms(restore[len(restore)-1]))
}
