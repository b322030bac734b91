package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/testkit/agenttest"
)

// BenchmarkSwarmRollingUpdate redeploys one routed workload with
// replicas: 3 b.N times (run it with -benchtime 5x) under 4 keep-alive
// clients through the embedded proxy: once on --engine swarm (a
// start-first rolling update of three tasks, each gated by Berth) and
// once on --engine docker (one container, blue-green). It prints the
// failed requests and the time from the push to the new version serving
// (the tick that pulls and deploys it). It makes this host a single-node
// swarm for the run and leaves it again.
func BenchmarkSwarmRollingUpdate(b *testing.B) {
	for _, e := range []string{"swarm", "docker"} {
		b.Run(e, func(b *testing.B) { rollingUpdate(b, e == "swarm") })
	}
}

func rollingUpdate(b *testing.B, swarm bool) {
	ctx := context.Background()
	h := agenttest.New(b)
	rt, proxy := h.EmbeddedRouter()
	host := h.Name + ".bench"
	opts := agent.Options{Router: rt, Engine: engine.Options{LivenessWindow: engine.DefaultLivenessWindow, Drain: engine.DefaultDrain}}
	if swarm {
		joinSwarm(b)
		svc := "berth_" + h.App + "_web"
		b.Cleanup(func() { _ = exec.Command("docker", "service", "rm", svc).Run() })
		opts.Engine.Services = &engine.Services{API: h.Docker}
	}
	write := func(version int) {
		h.Workload("web", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: \"v%d\"\nport: 8080\nroute:\n  hosts: [%s]\n"+
			"healthcheck:\n  path: /healthz\n  timeout: 10s\nstop_grace_period: 2s\nreplicas: 3\n", h.Image, version, host))
		h.Repo.Push(fmt.Sprintf("v%d", version))
	}
	write(0)
	a, _ := h.Agent(opts)
	if _, err := a.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	l := agenttest.StartLoad(proxy, host)
	var took []time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		write(i)
		start := time.Now()
		res, err := a.Tick(ctx)
		if err != nil || len(res.Deployed) != 1 {
			b.Fatalf("redeploy %d: %v (deployed %v)", i, err, res.Deployed)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	failed, gap, durs := l.Stats()
	engineName := "docker"
	if swarm {
		engineName = "swarm"
	}
	var total time.Duration
	for _, d := range took {
		total += d
	}
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(ms(total/time.Duration(len(took))), "push-to-serving-ms")
	fmt.Printf("--engine %s: %d redeploys of replicas: 3, %d requests, %d failed, longest gap %.0f ms, push→serving mean %.1f s (max %.1f s)\n",
		engineName, b.N, len(durs), failed, ms(gap), (total / time.Duration(len(took))).Seconds(), maxOf(took).Seconds())
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// joinSwarm makes this host a single-node swarm manager for the
// benchmark and leaves it (removing docker_gwbridge) when it ends, if it
// was not one before.
func joinSwarm(b *testing.B) {
	out, _ := exec.Command("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").Output()
	if strings.TrimSpace(string(out)) == "active" {
		return
	}
	if out, err := exec.Command("docker", "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377").CombinedOutput(); err != nil {
		b.Skipf("no single-node swarm here: %v\n%s", err, out)
	}
	b.Cleanup(func() {
		_ = exec.Command("docker", "swarm", "leave", "--force").Run()
		for range 20 { // bounded: 10 s
			if exec.Command("docker", "network", "rm", "docker_gwbridge").Run() == nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}
