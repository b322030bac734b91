package sources

import "slices"

// Placement says which agents run a workload: by agent name, by agent
// labels (every one must match), or both. A workload without one runs on
// every agent.
type Placement struct {
	Agents []string          `yaml:"agents" json:"agents,omitempty"`
	Labels map[string]string `yaml:"labels" json:"labels,omitempty"`
}

// Places reports whether the agent with this name and these labels runs
// the workload.
func (p *Placement) Places(agent string, labels map[string]string) bool {
	if p == nil {
		return true
	}
	if len(p.Agents) > 0 && !slices.Contains(p.Agents, agent) {
		return false
	}
	for k, v := range p.Labels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
