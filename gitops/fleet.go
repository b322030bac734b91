package gitops

import (
	"slices"
	"sort"
	"time"
)

// Fleet is every agent's folder on the status branch, read at one commit:
// what `berth fleet` prints and /api/fleet serves.
type Fleet struct {
	Branch string       `json:"branch"`
	Commit string       `json:"commit"` // the status branch commit read
	Now    time.Time    `json:"now"`
	Agents []FleetAgent `json:"agents"`
	// Workloads lists every workload id some agent reports, sorted.
	Workloads []string `json:"workloads"`
	// Problems names agent folders whose status.json could not be read.
	Problems []string `json:"problems,omitempty"`
}

// FleetAgent is one agent's report and whether it has gone quiet.
type FleetAgent struct {
	StatusReport
	// LastSeen is the report's heartbeat, or (for reports written before
	// heartbeats) its newest workload update.
	LastSeen time.Time `json:"last_seen"`
	// Quiet is set when the agent has not reported for longer than
	// QuietAfter: 3 × the longer of its schedule interval and heartbeat.
	Quiet      bool          `json:"quiet"`
	QuietAfter time.Duration `json:"quiet_after_ns"`
}

// defaultInterval is assumed for reports that do not say their schedule.
const defaultInterval = time.Minute

// QuietAfter is how long an agent may stay silent before the fleet view
// calls it quiet: three of its schedules, where a schedule is the longer
// of its tick interval and its heartbeat (an idle agent only commits a
// heartbeat).
func (r StatusReport) QuietAfter() time.Duration {
	every := time.Duration(max(r.IntervalSeconds, r.HeartbeatSeconds)) * time.Second
	if every <= 0 {
		every = defaultInterval
	}
	return 3 * every
}

// lastSeen is when the agent last said anything.
func (r StatusReport) lastSeen() time.Time {
	seen := r.Heartbeat
	for _, w := range r.Workloads {
		if w.UpdatedAt.After(seen) {
			seen = w.UpdatedAt
		}
	}
	return seen
}

// NewFleet orders reports by agent name and marks the quiet ones.
func NewFleet(branch, commit string, reports []StatusReport, now time.Time) *Fleet {
	f := &Fleet{Branch: branch, Commit: commit, Now: now, Agents: []FleetAgent{}, Workloads: []string{}}
	ids := map[string]bool{}
	for _, r := range reports {
		a := FleetAgent{StatusReport: r, LastSeen: r.lastSeen(), QuietAfter: r.QuietAfter()}
		a.Quiet = now.Sub(a.LastSeen) > a.QuietAfter
		f.Agents = append(f.Agents, a)
		for id := range r.Workloads {
			ids[id] = true
		}
	}
	sort.Slice(f.Agents, func(i, j int) bool { return f.Agents[i].Agent < f.Agents[j].Agent })
	for id := range ids {
		f.Workloads = append(f.Workloads, id)
	}
	slices.Sort(f.Workloads)
	return f
}

// Agent returns the named agent's entry, or nil.
func (f *Fleet) Agent(name string) *FleetAgent {
	for i := range f.Agents {
		if f.Agents[i].Agent == name {
			return &f.Agents[i]
		}
	}
	return nil
}

// Serving lists the agents accept takes that report workload id running
// and are not quiet: where a moved workload already serves.
func (f *Fleet) Serving(id string, accept func(FleetAgent) bool) []string {
	var out []string
	for _, a := range f.Agents {
		if a.Quiet || !accept(a) {
			continue
		}
		if w, ok := a.Workloads[id]; ok && w.State == "running" {
			out = append(out, a.Agent)
		}
	}
	return out
}
