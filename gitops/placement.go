package gitops

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/berthops/berth/sources"
)

// AgentNameRe is what an agent name may be (it is a label value and part
// of route ids).
var AgentNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,62}$`)

var labelKeyRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

func validatePlacement(dec *decoder, p *sources.Placement) {
	if p == nil {
		return
	}
	if len(p.Agents) == 0 && len(p.Labels) == 0 {
		dec.errorf("placement", dec.at("placement"), "set agents, labels or both (omit placement to run on every agent)")
	}
	for i, a := range p.Agents {
		if !AgentNameRe.MatchString(a) {
			field := fmt.Sprintf("placement.agents.%d", i)
			dec.errorf(field, dec.at("placement.agents"), "%q is not an agent name (lower-case letters, digits, '.' and '-')", a)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		if !labelKeyRe.MatchString(k) || strings.TrimSpace(p.Labels[k]) == "" {
			dec.errorf("placement.labels."+k, dec.at("placement.labels."+k), "labels are lower-case key: non-empty value (%q: %q)", k, p.Labels[k])
		}
	}
}

// ParseAgentLabels reads --agent-labels: "role=web,zone=eu".
func ParseAgentLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !labelKeyRe.MatchString(k) || v == "" {
			return nil, fmt.Errorf("--agent-labels %q: %q is not key=value (a lower-case key, a value)", s, kv)
		}
		out[k] = v
	}
	return out, nil
}

// PlaceOn keeps the workloads placed on this agent and counts the ones
// placed elsewhere. Invalid files are kept: what they run stays, wherever
// it is, until they are fixed.
func (d *Desired) PlaceOn(agent string, labels map[string]string) {
	kept := d.Workloads[:0:0]
	for _, w := range d.Workloads {
		if w.Placement.Places(agent, labels) {
			kept = append(kept, w)
		} else {
			if d.Elsewhere == nil {
				d.Elsewhere = map[string]*sources.Workload{}
			}
			d.Elsewhere[w.ID()] = w
		}
	}
	d.Workloads = kept
}
