package gitops

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/berthops/berth/sources"
)

// AgentChange says which known agents a change lands on: the agents that
// reported to the status branch and whose name and labels the workload's
// placement takes. From is set when the placement changed (a move).
type AgentChange struct {
	From []string `json:"from,omitempty"`
	To   []string `json:"to"`
}

// DescribePlacement reads like "every agent", "agents host-a, host-b",
// "labels role=web".
func DescribePlacement(p *sources.Placement) string {
	if p == nil {
		return "every agent"
	}
	var parts []string
	if len(p.Agents) > 0 {
		parts = append(parts, "agents "+strings.Join(p.Agents, ", "))
	}
	if len(p.Labels) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
			kv = append(kv, k+"="+p.Labels[k])
		}
		parts = append(parts, "labels "+strings.Join(kv, ","))
	}
	return strings.Join(parts, "; ")
}

// placedOn lists the known agents a placement takes.
func placedOn(p *sources.Placement, agents []FleetAgent) []string {
	out := []string{}
	for _, a := range agents {
		if p.Places(a.Agent, a.Labels) {
			out = append(out, a.Agent)
		}
	}
	return out
}

// Land names, for every change, the known agents it lands on, from the
// fleet on the status branch (nil: agents unknown, nothing is named).
func (p *Plan) Land(base, head *Desired, f *Fleet) {
	if f == nil {
		return
	}
	p.Fleet = fmt.Sprintf("%s@%s", f.Branch, short(f.Commit))
	p.KnownAgents = len(f.Agents)
	b, h := base.ByID(), head.ByID()
	for i := range p.Workloads {
		c := &p.Workloads[i]
		switch c.Change {
		case "removed":
			c.Agents = &AgentChange{To: placedOn(b[c.ID].Placement, f.Agents)}
		default:
			c.Agents = &AgentChange{To: placedOn(h[c.ID].Placement, f.Agents)}
			if bw := b[c.ID]; bw != nil && DescribePlacement(bw.Placement) != DescribePlacement(h[c.ID].Placement) {
				c.Agents.From = placedOn(bw.Placement, f.Agents)
			}
		}
	}
}

// agentsLine is the plan's line on where a change lands.
func (c WorkloadChange) agentsLine() string {
	a := c.Agents
	if a == nil {
		return ""
	}
	list := func(s []string) string {
		if len(s) == 0 {
			return "no known agent"
		}
		return strings.Join(s, ", ")
	}
	switch {
	case a.From != nil:
		return fmt.Sprintf("moves: %s → %s", list(a.From), list(a.To))
	case c.Change == "removed":
		return "removed from: " + list(a.To)
	}
	return "lands on: " + list(a.To)
}
