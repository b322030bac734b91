package bench

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/loopback"
)

// BenchmarkProxyRestartUnderLoad SIGKILLs a real `berth proxy` b.N times
// and starts it again on the same flags and state dir, while 4 clients
// send requests for a route an agent added through its admin API. It
// prints the requests that failed (the proxy is down between the kill and
// the restart: connections are refused), the longest gap, and the time from
// the restarted proxy's admin answering to the route serving, with no agent
// action.
func BenchmarkProxyRestartUnderLoad(b *testing.B) {
	ctx := context.Background()
	h := agenttest.New(b)
	httpAddr, admin, state := loopback.FreeAddr(b), loopback.FreeAddr(b), b.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(agenttest.Berth(b), "proxy", "--http", httpAddr, "--https", "", "--admin", admin, "--state-dir", state, "--log-level", "warn")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for range 200 { // bounded: 10 s
			if resp, err := http.Get("http://" + admin + "/config/"); err == nil {
				_ = resp.Body.Close()
				return cmd
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.Fatal("berth proxy did not start")
		return nil
	}
	proxy := start()
	defer func() { _ = proxy.Process.Kill(); _ = proxy.Wait() }()

	host := h.Name + ".bench"
	h.Workload("web", agenttest.Routed(h.Image, host, "v0", "blue-green"))
	h.Repo.Push("v0")
	drv, err := router.NewAdmin("http://"+admin, router.ConfigOptions{HTTP: httpAddr, Agent: h.Name})
	if err != nil {
		b.Fatal(err)
	}
	rt, err := router.New(drv, filepath.Join(h.StateDir, "routes.json"))
	if err != nil {
		b.Fatal(err)
	}
	a, _ := h.Agent(agent.Options{Router: rt})
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}

	l := agenttest.StartLoad(httpAddr, host)
	var back []time.Duration
	c := &http.Client{Timeout: time.Second}
	b.ResetTimer()
	for range b.N {
		time.Sleep(500 * time.Millisecond)
		_ = proxy.Process.Kill()
		_ = proxy.Wait()
		proxy = start()
		up := time.Now()
		for range 200 { // bounded: 10 s
			if _, err := loopback.Get(c, httpAddr, host); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		back = append(back, time.Since(up))
	}
	b.StopTimer()
	time.Sleep(300 * time.Millisecond)
	l.Finish()
	failed, gap, samples := l.Stats()
	sort.Slice(back, func(i, j int) bool { return back[i] < back[j] })
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(ms(gap), "longest-gap-ms")
	fmt.Printf("proxy SIGKILLed and restarted: %d restarts, %d requests, %d failed, longest gap %.0f ms, admin answering→route serving min %.1f / median %.1f / max %.1f ms\n",
		b.N, len(samples), failed, ms(gap), ms(back[0]), ms(back[len(back)/2]), ms(back[len(back)-1]))
}
