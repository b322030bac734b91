package gitops

import (
	"fmt"
	"sort"
	"strings"

	"github.com/berthops/berth/sources"
)

// Plan is what merging head into base would change.
type Plan struct {
	Base      string           `json:"base"`
	Head      string           `json:"head"`
	Workloads []WorkloadChange `json:"workloads"`
	Secrets   []SecretChange   `json:"secrets"`
	// HeadSignature is set when the plan was asked to check signatures
	// (--trusted-signers): an unverified head is never deployed.
	HeadSignature *Signature `json:"head_signature,omitempty"`
	// Fleet is the status branch the agents were read from
	// ("berth/status@abc1234"); "" when they are unknown.
	Fleet       string `json:"fleet,omitempty"`
	KnownAgents int    `json:"known_agents,omitempty"`
}

// Changed reports whether the plan changes anything.
func (p *Plan) Changed() bool { return len(p.Workloads)+len(p.Secrets) > 0 }

// WorkloadChange is one workload's part of a plan.
type WorkloadChange struct {
	ID       string          `json:"id"`
	Change   string          `json:"change"` // added, removed, changed
	Strategy *StrategyChange `json:"strategy,omitempty"`
	Fields   []FieldChange   `json:"fields,omitempty"`
	// Agents are the known agents it lands on (see Plan.Land).
	Agents *AgentChange `json:"agents,omitempty"`
}

// StrategyChange is the effective strategy on each side.
type StrategyChange struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// FieldChange is one field that differs.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

// SecretChange names a shared secret that was added, removed or changed
// (re-encrypted or rotated). Never a value.
type SecretChange struct {
	Change string `json:"change"`
	Scope  string `json:"scope"`
	App    string `json:"app,omitempty"`
	Name   string `json:"name"`
}

// DescribeStrategy says which strategy runs and why, the way a reviewer
// reads it: "blue-green (default)", "recreate (explicit)",
// "blue-green requested, recreate forced: storage-backed deno site".
func DescribeStrategy(d sources.Decision) string {
	if d.Reason == sources.ReasonForced {
		asked := d.Requested
		if asked == "" {
			asked = "blue-green (default)"
		}
		return fmt.Sprintf("%s requested, %s forced: %s", asked, d.Strategy, d.Why)
	}
	return fmt.Sprintf("%s (%s)", d.Strategy, d.Reason)
}

// NewPlan compares two rendered revisions. Strategy changes come first.
func NewPlan(base, head *Desired, baseRev, headRev string) *Plan {
	p := &Plan{Base: baseRev, Head: headRev, Workloads: []WorkloadChange{}, Secrets: []SecretChange{}}
	b, h := base.ByID(), head.ByID()
	ids := map[string]bool{}
	for id := range b {
		ids[id] = true
	}
	for id := range h {
		ids[id] = true
	}
	for id := range ids {
		bw, hw := b[id], h[id]
		switch {
		case bw == nil:
			p.Workloads = append(p.Workloads, WorkloadChange{ID: id, Change: "added",
				Strategy: &StrategyChange{To: DescribeStrategy(sources.Decide(hw))}, Fields: diffFields(nil, hw)})
		case hw == nil:
			p.Workloads = append(p.Workloads, WorkloadChange{ID: id, Change: "removed",
				Strategy: &StrategyChange{From: DescribeStrategy(sources.Decide(bw))}})
		default:
			c := WorkloadChange{ID: id, Change: "changed", Fields: diffFields(bw, hw)}
			if from, to := DescribePlacement(bw.Placement), DescribePlacement(hw.Placement); from != to {
				// Not hashed: it moves the workload, it redeploys nothing where it stays.
				c.Fields = append(c.Fields, FieldChange{Field: "placement", From: from, To: to})
			}
			from, to := DescribeStrategy(sources.Decide(bw)), DescribeStrategy(sources.Decide(hw))
			if from != to {
				c.Strategy = &StrategyChange{From: from, To: to}
			}
			if len(c.Fields) > 0 || c.Strategy != nil {
				p.Workloads = append(p.Workloads, c)
			}
		}
	}
	sort.Slice(p.Workloads, func(i, j int) bool {
		a, b := p.Workloads[i], p.Workloads[j]
		as, bs := a.Change == "changed" && a.Strategy != nil, b.Change == "changed" && b.Strategy != nil
		if as != bs {
			return as
		}
		return a.ID < b.ID
	})
	p.Secrets = diffSecrets(base.Secrets, head.Secrets)
	return p
}

func diffFields(a, b *sources.Workload) []FieldChange {
	fa, fb := Fields(a, false), Fields(b, false)
	var out []FieldChange
	for _, k := range ChangedFields(fa, fb) {
		out = append(out, FieldChange{Field: k, From: fa[k], To: fb[k]})
	}
	return out
}

func diffSecrets(base, head []SecretFile) []SecretChange {
	key := func(s SecretFile) string { return s.Scope + "/" + s.App + "/" + s.Name }
	b, h := map[string]SecretFile{}, map[string]SecretFile{}
	for _, s := range base {
		b[key(s)] = s
	}
	for _, s := range head {
		h[key(s)] = s
	}
	out := []SecretChange{}
	for k, s := range h {
		old, ok := b[k]
		switch {
		case !ok:
			out = append(out, SecretChange{Change: "added", Scope: s.Scope, App: s.App, Name: s.Name})
		case old.Sum != s.Sum:
			out = append(out, SecretChange{Change: "changed", Scope: s.Scope, App: s.App, Name: s.Name})
		}
	}
	for k, s := range b {
		if _, ok := h[k]; !ok {
			out = append(out, SecretChange{Change: "removed", Scope: s.Scope, App: s.App, Name: s.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join([]string{out[i].Scope, out[i].App, out[i].Name}, "/") < strings.Join([]string{out[j].Scope, out[j].App, out[j].Name}, "/")
	})
	return out
}
