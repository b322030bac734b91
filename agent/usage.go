package agent

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthops/berth/docker"
)

// statsReader samples containers' use (docker.Client).
type statsReader interface {
	Stats(ctx context.Context, id string, oneShot bool) (docker.Usage, error)
}

// usageCache is the last sample of every workload's containers, taken on
// a slow interval beside the ticks (never by a tick: an idle tick makes
// no Docker call).
type usageCache struct {
	mu      sync.Mutex
	at      time.Time
	byID    map[string][]docker.Usage
	running bool
}

// Usage samples a workload's containers now (the workload page): CPU,
// memory and its limit, processes, restarts, uptime.
func (a *Agent) Usage(ctx context.Context, id string) ([]docker.Usage, error) {
	sr, ok := a.docker.(statsReader)
	if !ok {
		return nil, ErrNoLogs
	}
	cs, err := a.logContainers(ctx, id, "")
	if err != nil {
		return nil, err
	}
	return a.sample(ctx, sr, cs, false), nil
}

// sample reads the containers' stats, four at a time, each bounded by
// the Docker call deadline; a container that cannot be read is left out.
func (a *Agent) sample(ctx context.Context, sr statsReader, cs []docker.Container, oneShot bool) []docker.Usage {
	out := make([]docker.Usage, len(cs))
	ok := make([]bool, len(cs))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			u, err := sr.Stats(cctx, c.ID, oneShot)
			if err != nil {
				a.log.Debug("sampling a container failed", "container", c.Name, "error", err)
				return
			}
			out[i], ok[i] = u, true
		})
	}
	wg.Wait()
	var kept []docker.Usage
	for i := range out {
		if ok[i] {
			kept = append(kept, out[i])
		}
	}
	return kept
}

// SampledUsage is the last interval sample, by workload (for the API's
// list and /metrics; no Docker call).
func (a *Agent) SampledUsage() map[string][]docker.Usage {
	a.usage.mu.Lock()
	defer a.usage.mu.Unlock()
	return a.usage.byID
}

// sampleAll takes one sample of every container the agent runs.
func (a *Agent) sampleAll(ctx context.Context) {
	sr, ok := a.docker.(statsReader)
	if !ok {
		return
	}
	cs, err := a.docker.List(ctx, a.opts.Name)
	if err != nil {
		a.log.Warn("sampling containers failed", "error", err)
		return
	}
	var running []docker.Container
	for _, c := range cs {
		if c.State == "running" && c.Workload() != "" {
			running = append(running, c)
		}
	}
	// One-shot reads answer at once; the CPU share is taken between this
	// sample and the last one.
	us := a.sample(ctx, sr, running, true)
	a.usage.mu.Lock()
	prev := map[string]docker.Usage{}
	for _, list := range a.usage.byID {
		for _, u := range list {
			prev[u.Container] = u
		}
	}
	a.usage.mu.Unlock()
	for i := range us {
		if p, ok := prev[us[i].Container]; ok && p.StartedAt.Equal(us[i].StartedAt) {
			us[i].CPUPercent = us[i].CPUSince(p)
		}
	}
	byName := map[string]string{}
	for _, c := range running {
		byName[c.Name] = c.Workload()
	}
	byID := map[string][]docker.Usage{}
	for _, u := range us {
		id := byName[u.Container]
		byID[id] = append(byID[id], u)
	}
	for _, v := range byID {
		sort.Slice(v, func(i, j int) bool { return v[i].Container < v[j].Container })
	}
	a.usage.mu.Lock()
	a.usage.byID, a.usage.at = byID, a.now()
	a.usage.mu.Unlock()
}

// usageLoop samples every interval until ctx ends (--stats-interval;
// off when not positive).
func (a *Agent) usageLoop(ctx context.Context) {
	if a.opts.StatsInterval <= 0 {
		return
	}
	t := time.NewTicker(a.opts.StatsInterval)
	defer t.Stop()
	a.sampleAll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.sampleAll(ctx)
		}
	}
}

var (
	cpuDesc      = prometheus.NewDesc("berth_container_cpu_percent", "CPU use of a workload's container at the last sample (100 is one CPU busy).", []string{"workload", "container"}, nil)
	memDesc      = prometheus.NewDesc("berth_container_memory_bytes", "Memory use of a workload's container at the last sample, without the page cache.", []string{"workload", "container"}, nil)
	memLimitDesc = prometheus.NewDesc("berth_container_memory_limit_bytes", "The memory limit of a workload's container (the host's memory when it has none).", []string{"workload", "container"}, nil)
	restartsDesc = prometheus.NewDesc("berth_container_restarts", "How often Docker restarted a workload's container.", []string{"workload", "container"}, nil)
	startedDesc  = prometheus.NewDesc("berth_container_started_timestamp_seconds", "When a workload's container started (Unix time).", []string{"workload", "container"}, nil)
)

// usageCollector exports the last sample (no Docker call at scrape).
type usageCollector struct{ a *Agent }

func (c *usageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cpuDesc, memDesc, memLimitDesc, restartsDesc, startedDesc} {
		ch <- d
	}
}

func (c *usageCollector) Collect(ch chan<- prometheus.Metric) {
	for id, us := range c.a.SampledUsage() {
		for _, u := range us {
			ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.GaugeValue, u.CPUPercent, id, u.Container)
			ch <- prometheus.MustNewConstMetric(memDesc, prometheus.GaugeValue, float64(u.MemoryBytes), id, u.Container)
			ch <- prometheus.MustNewConstMetric(memLimitDesc, prometheus.GaugeValue, float64(u.MemoryLimit), id, u.Container)
			ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.GaugeValue, float64(u.Restarts), id, u.Container)
			ch <- prometheus.MustNewConstMetric(startedDesc, prometheus.GaugeValue, float64(u.StartedAt.Unix()), id, u.Container)
		}
	}
}

// SampleAll takes the interval sample now (tests, benchmarks).
func (a *Agent) SampleAll(ctx context.Context) { a.sampleAll(ctx) }
