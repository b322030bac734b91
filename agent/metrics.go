package agent

import (
	"context"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Counter is a monotonically increasing count, such as Docker API calls.
type Counter interface{ Calls() int64 }

// metrics are the agent's Prometheus metrics, in a registry of its own
// (no package-level state): the Go runtime and the process, ticks,
// deploys, and the workloads by state.
type metrics struct {
	reg            *prometheus.Registry
	lastSuccess    prometheus.Gauge
	tickDuration   prometheus.Histogram
	ticks          *prometheus.CounterVec
	deployDuration *prometheus.HistogramVec
	runDuration    *prometheus.HistogramVec
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_last_successful_tick_timestamp_seconds",
			Help: "When a tick last pulled, loaded and acted (Unix time); /readyz fails when it is too old."}),
		tickDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "berth_tick_duration_seconds",
			Help: "How long ticks take.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_ticks_total",
			Help: "Ticks by result: idle, changed (something deployed or observed), failed (the tick could not run)."}, []string{"result"}),
		deployDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "berth_deploy_duration_seconds",
			Help: "How long deploys take, by strategy, source kind and result.", Buckets: []float64{.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}},
			[]string{"strategy", "kind", "result"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "berth_task_run_duration_seconds",
			Help:    "Runs of jobs and before_deploy tasks, by workload, task, trigger and result (succeeded, failed, timed_out); its _count is the number of runs.",
			Buckets: []float64{.5, 1, 5, 15, 60, 300, 900, 3600}}, []string{"workload", "task", "trigger", "result"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.lastSuccess, m.tickDuration, m.ticks, m.deployDuration, m.runDuration,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_sql_queries_total", Help: "SQL statements run by this agent."},
			func() float64 { return float64(a.store.Queries()) }),
		&workloadCollector{a: a}, &backupCollector{a: a}, &usageCollector{a: a})
	if c, ok := a.docker.(Counter); ok {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_docker_api_calls_total", Help: "Docker API requests made by this agent."},
			func() float64 { return float64(c.Calls()) }))
	}
	return m
}

func (m *metrics) tick(res *TickResult, ran bool, took time.Duration, now time.Time) {
	m.tickDuration.Observe(took.Seconds())
	switch {
	case !ran:
		m.ticks.WithLabelValues("failed").Inc()
		return
	case res.NoOp && !res.Changed():
		m.ticks.WithLabelValues("idle").Inc()
	default:
		m.ticks.WithLabelValues("changed").Inc()
	}
	m.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	for _, o := range res.Outcomes {
		m.deployDuration.WithLabelValues(string(o.Decision.Strategy), string(o.Workload.Source.Kind()), o.Result.String()).Observe(o.Took.Seconds())
	}
}

// workloadCollector reports berth_workloads{state} from the store at
// scrape time.
type workloadCollector struct{ a *Agent }

var workloadsDesc = prometheus.NewDesc("berth_workloads", "Workloads by state (running, degraded, down, pinned, suspended, ...).", []string{"state"}, nil)

func (c *workloadCollector) Describe(ch chan<- *prometheus.Desc) { ch <- workloadsDesc }

func (c *workloadCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.a.store.ListRuntime(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(workloadsDesc, err)
		return
	}
	by := map[string]int{}
	for _, r := range rows {
		by[health(r).State]++
	}
	for state, n := range by {
		ch <- prometheus.MustNewConstMetric(workloadsDesc, prometheus.GaugeValue, float64(n), state)
	}
}

// run records a task's run.
func (m *metrics) run(r store.Run) {
	result := "succeeded"
	switch {
	case r.TimedOut:
		result = "timed_out"
	case r.ExitCode != 0 || r.Error != "":
		result = "failed"
	}
	m.runDuration.WithLabelValues(r.WorkloadID, r.Task, r.Trigger, result).Observe(float64(r.DurationMS) / 1000)
}
