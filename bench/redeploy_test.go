package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/dockertest"
	"github.com/berthops/berth/internal/gitserver"
	"github.com/berthops/berth/sources/router"
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
	d := dockertest.Docker(b)
	img := dockertest.Image(b, "bench")
	name := dockertest.AgentName(b)
	stateDir := b.TempDir()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	proxy := l.Addr().String()
	l.Close()
	drv := router.NewEmbedded(router.ConfigOptions{HTTP: proxy, StorageDir: filepath.Join(stateDir, "caddy")})
	defer func() { _ = drv.Stop() }()
	rt, err := router.New(drv, filepath.Join(stateDir, "routes.json"))
	if err != nil {
		b.Fatal(err)
	}

	src := gitserver.Start(b).NewRepo(b, "config")
	host := name + ".bench"
	file := fmt.Sprintf("apps/b%s/web.yaml", name[2:])
	write := func(version int) {
		src.Write(file, fmt.Sprintf(`source:
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
`, img, strategy, version, host))
		src.Push(fmt.Sprintf("v%d", version))
	}
	write(0)
	st, err := store.Open(ctx, filepath.Join(stateDir, "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	repo, err := gitops.NewRepo(src.URL, "main", filepath.Join(stateDir, "repo"), gitops.Credentials{})
	if err != nil {
		b.Fatal(err)
	}
	a := agent.New(agent.Options{Name: name, Router: rt}, repo, st, d, slog.New(slog.DiscardHandler))
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}

	type sample struct {
		at  time.Time
		dur time.Duration
		ok  bool
	}
	var mu sync.Mutex
	var samples []sample
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			var local []sample
			defer func() { mu.Lock(); samples = append(samples, local...); mu.Unlock() }()
			for range 5_000_000 { // bounded
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, "http://"+proxy+"/", nil)
				req.Host = host
				t0 := time.Now()
				resp, err := c.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				local = append(local, sample{at: time.Now(), dur: time.Since(t0), ok: ok})
			}
		}()
	}

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
	close(stop)
	wg.Wait()

	sort.Slice(samples, func(i, j int) bool { return samples[i].at.Before(samples[j].at) })
	var durs []time.Duration
	failed := 0
	var gap time.Duration
	var lastOK time.Time
	for _, s := range samples {
		durs = append(durs, s.dur)
		if !s.ok {
			failed++
			continue
		}
		if !lastOK.IsZero() && s.at.Sub(lastOK) > gap {
			gap = s.at.Sub(lastOK)
		}
		lastOK = s.at
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
