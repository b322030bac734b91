package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/loopback"
)

// BenchmarkSwapTail puts Berth's swap tail beside a floor: the same 4
// keep-alive clients, first through a plain Go reverse proxy that
// switches between two running containers of the same image b.N times
// (nothing but the switch), then through Berth's embedded proxy while
// Berth redeploys b.N times with health-gated blue-green swaps. Run it
// with -benchtime 20x.
func BenchmarkSwapTail(b *testing.B) {
	b.Run("plain-reverse-proxy", plainSwaps)
	b.Run("berth-blue-green", func(b *testing.B) {
		redeployUnderLoad(b, "berth-blue-green", "blue-green", "healthcheck:\n  path: /healthz\n  timeout: 10s\n")
	})
}

func plainSwaps(b *testing.B) {
	ctx := context.Background()
	h := agenttest.New(b)
	d := dockertest.Docker(b)
	var upstreams []*url.URL
	for i := range 2 {
		id, err := d.Create(ctx, docker.RunSpec{Name: fmt.Sprintf("berth-bench-%s-%d", h.Name, i), Image: h.Image, Port: 8080,
			Env: []string{fmt.Sprintf("MESSAGE=v%d", i)}, Labels: map[string]string{docker.LabelAgent: h.Name}})
		if err != nil {
			b.Fatal(err)
		}
		c, err := d.Start(ctx, id, 8080)
		if err != nil {
			b.Fatal(err)
		}
		u, _ := url.Parse("http://" + engine.Upstream(c))
		upstreams = append(upstreams, u)
	}
	var current atomic.Int32
	proxies := []*httputil.ReverseProxy{httputil.NewSingleHostReverseProxy(upstreams[0]), httputil.NewSingleHostReverseProxy(upstreams[1])}
	addr := loopback.FreeAddr(b)
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxies[current.Load()].ServeHTTP(w, r) })}
	go func() { _ = srv.ListenAndServe() }()
	defer srv.Close()
	for range 100 { // bounded: wait until it answers
		if _, err := loopback.Get(http.DefaultClient, addr, "bench"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := agenttest.StartLoad(addr, "bench")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(500 * time.Millisecond) // about the pace of Berth's health-gated swaps
		current.Store(int32((i + 1) % 2))
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	failed, gap, durs := l.Stats()
	fmt.Printf("plain-reverse-proxy: %d switches, %d requests, %d failed, p99 %.1f ms, max %.1f ms, longest gap %.0f ms\n",
		b.N, len(durs), failed, ms(durs[len(durs)*99/100]), ms(durs[len(durs)-1]), ms(gap))
}

// BenchmarkPushToServing measures, b.N times, the time from a push to the
// config repo until the embedded proxy answers with the new version, for
// an app that is ready 100 ms after it starts, when the push triggers a
// tick at once (a webhook), and where that time goes: the tick up to the
// new container's start (fetch, load, create, start), the readiness gate,
// the route swap, and the proxy serving the new upstream.
func BenchmarkPushToServing(b *testing.B) {
	ctx := context.Background()
	h := agenttest.New(b)
	rt, proxy := h.EmbeddedRouter()
	host := h.Name + ".bench"
	write := func(version int) {
		h.Workload("web", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: \"v%d\"\n  READY_DELAY: 100ms\nport: 8080\nroute:\n  hosts: [%s]\nhealthcheck:\n  path: /healthz\n  timeout: 10s\n", h.Image, version, host))
		h.Repo.Push(fmt.Sprintf("v%d", version))
	}
	write(0)
	a, _ := h.Agent(agent.Options{Router: rt, Engine: engine.Options{LivenessWindow: engine.DefaultLivenessWindow, Drain: engine.DefaultDrain}})
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	var total, toStart, gate, swap, serve []time.Duration
	c := &http.Client{Timeout: 2 * time.Second}
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		b.StopTimer()
		write(i)
		b.StartTimer()
		t0 := time.Now()
		done := make(chan *agent.TickResult, 1)
		go func() {
			res, err := a.Tick(ctx)
			if err != nil {
				b.Error(err)
			}
			done <- res
		}()
		want := fmt.Sprintf("v%d", i)
		var seen time.Time
		for range 2000 { // bounded: 20 s
			if body, err := loopback.Get(c, proxy, host); err == nil && strings.Contains(body, want) {
				seen = time.Now()
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		res := <-done
		if seen.IsZero() || res == nil || len(res.Deployed) == 0 {
			b.Fatalf("version %d never served", i)
		}
		t := res.Timings[res.Deployed[0]]
		total = append(total, seen.Sub(t0))
		toStart = append(toStart, t.Started.Sub(t0))
		gate = append(gate, t.Ready.Sub(t.Started))
		swap = append(swap, t.Swapped.Sub(t.Ready))
		serve = append(serve, seen.Sub(t.Swapped))
	}
	b.StopTimer()
	med := func(ds []time.Duration) float64 {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return ms(s[len(s)/2])
	}
	b.ReportMetric(med(total), "push-to-serving-ms")
	fmt.Printf("push → serving (app ready in 100 ms), median of %d: %.0f ms = tick to container start %.0f + gate %.0f + route swap %.0f + proxy serving it %.0f\n",
		b.N, med(total), med(toStart), med(gate), med(swap), med(serve))
}
