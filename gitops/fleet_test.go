package gitops

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFleetQuietAgents(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	running := map[string]WorkloadStatus{"shop/web": {State: "running", UpdatedAt: now.Add(-5 * time.Hour)}}
	tests := []struct {
		name  string
		r     StatusReport
		quiet bool
	}{
		{"heartbeat within 3 heartbeats", StatusReport{Heartbeat: now.Add(-29 * time.Minute), IntervalSeconds: 60, HeartbeatSeconds: 600}, false},
		{"no heartbeat for more than 3 heartbeats", StatusReport{Heartbeat: now.Add(-31 * time.Minute), IntervalSeconds: 60, HeartbeatSeconds: 600}, true},
		{"a slow schedule outweighs the heartbeat", StatusReport{Heartbeat: now.Add(-2 * time.Hour), IntervalSeconds: 3600, HeartbeatSeconds: 600}, false},
		{"heartbeat off: 3 schedules", StatusReport{Heartbeat: now.Add(-4 * time.Minute), IntervalSeconds: 60}, true},
		{"an old report without heartbeat: its newest update, 3 minutes", StatusReport{Workloads: running}, true},
		{"an old report updated a minute ago", StatusReport{Workloads: map[string]WorkloadStatus{"shop/web": {State: "running", UpdatedAt: now.Add(-time.Minute)}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Agent = "host-a"
			f := NewFleet("berth/status", "abc", []StatusReport{tt.r}, now)
			assert.Equal(t, tt.quiet, f.Agents[0].Quiet)
		})
	}
}

func TestFleetServingSkipsQuietAndFailedCopies(t *testing.T) {
	now := time.Now()
	f := NewFleet("berth/status", "abc", []StatusReport{
		{Agent: "c", Heartbeat: now, Workloads: map[string]WorkloadStatus{"shop/web": {State: "running"}}},
		{Agent: "a", Heartbeat: now, Workloads: map[string]WorkloadStatus{"shop/web": {State: "running"}}},
		{Agent: "b", Heartbeat: now, Workloads: map[string]WorkloadStatus{"shop/web": {State: "degraded"}}},
		{Agent: "q", Heartbeat: now.Add(-time.Hour), Workloads: map[string]WorkloadStatus{"shop/web": {State: "running"}}},
	}, now)
	assert.Equal(t, []string{"a", "b", "c", "q"}, []string{f.Agents[0].Agent, f.Agents[1].Agent, f.Agents[2].Agent, f.Agents[3].Agent})
	assert.Equal(t, []string{"c"}, f.Serving("shop/web", func(a FleetAgent) bool { return a.Agent != "a" }))
	assert.Equal(t, []string{"shop/web"}, f.Workloads)
}
