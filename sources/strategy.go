package sources

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Strategy is how a workload's new version replaces the old one.
type Strategy string

// The strategies. Stack is compose's: the stack tool decides.
const (
	StrategyRecreate  Strategy = "recreate"
	StrategyBlueGreen Strategy = "blue-green"
	StrategyStack     Strategy = "stack-managed"
)

func (s Strategy) String() string { return string(s) }

// Reason says why an effective strategy was chosen, for events and plans.
type Reason string

// The reasons.
const (
	ReasonDefault  Reason = "default"
	ReasonExplicit Reason = "explicit"
	ReasonForced   Reason = "forced"
)

func (r Reason) String() string { return string(r) }

// ValidateStrategy checks a deploy_strategy value for a source kind. The
// empty value is always valid: it means the kind's historical default.
func ValidateStrategy(kind Kind, value string) error {
	if kind == KindStack && value != "" {
		return fmt.Errorf("%q is not supported for stack: Docker Swarm rolls services out itself (deploy.update_config in the file: order: start-first, failure_action: rollback); leave it out", value)
	}
	switch Strategy(value) {
	case "", StrategyRecreate:
		return nil
	case StrategyBlueGreen:
		if kind == KindCompose {
			return fmt.Errorf("%q is not supported for compose: the stack is managed by docker compose, which cannot run two copies side by side; use \"\" or \"recreate\"", value)
		}
		return nil
	default:
		return fmt.Errorf("%q is not one of \"\", \"recreate\", \"blue-green\"", value)
	}
}

// DefaultStrategy is the historical behaviour of a kind, used when
// deploy_strategy is empty.
func DefaultStrategy(kind Kind) Strategy {
	switch kind {
	case KindImage:
		return StrategyBlueGreen
	case KindCompose, KindStack:
		return StrategyStack
	default:
		return StrategyRecreate
	}
}

// RecreateForcer is implemented by configs that can rule out blue-green, such
// as a storage-backed deno site (two containers would share one RW volume).
// ForcesRecreate returns why, or "" when blue-green is allowed.
type RecreateForcer interface {
	ForcesRecreate() string
}

// Decision is the strategy a deploy runs and why.
type Decision struct {
	Strategy  Strategy `json:"strategy"`
	Requested string   `json:"requested,omitempty"`
	Reason    Reason   `json:"reason"`        // default, explicit or forced
	Why       string   `json:"why,omitempty"` // for forced: the gate that forced it
}

// String reads like "blue-green (default)" or
// "recreate (forced: storage-backed deno site)".
func (d Decision) String() string {
	if d.Why != "" {
		return fmt.Sprintf("%s (%s: %s)", d.Strategy, d.Reason, d.Why)
	}
	return fmt.Sprintf("%s (%s)", d.Strategy, d.Reason)
}

// EffectiveStrategy decides the strategy a validated config deploys with.
func EffectiveStrategy(c Config) Decision {
	d := Decision{Strategy: DefaultStrategy(c.Kind()), Reason: ReasonDefault}
	if requested := c.Strategy(); requested != "" {
		d = Decision{Strategy: Strategy(requested), Requested: requested, Reason: ReasonExplicit}
	}
	if why := forcedRecreate(c); why != "" {
		return d.ForceRecreate(why)
	}
	return d
}

// Decide is the effective strategy of a workload: its source's, with the
// workload-level gate that a pinned host port cannot run two copies.
func Decide(w *Workload) Decision {
	d := EffectiveStrategy(w.Source)
	if w.HostPort != 0 {
		return d.ForceRecreate("pinned host_port")
	}
	if len(w.Volumes) > 0 {
		return d.ForceRecreate("volumes")
	}
	return d
}

// ForceRecreate turns a blue-green decision into a forced recreate for why;
// any other decision is returned as it is.
func (d Decision) ForceRecreate(why string) Decision {
	if d.Strategy != StrategyBlueGreen {
		return d
	}
	return Decision{Strategy: StrategyRecreate, Requested: d.Requested, Reason: ReasonForced, Why: why}
}

func forcedRecreate(c Config) string {
	if f, ok := c.(RecreateForcer); ok {
		return f.ForcesRecreate()
	}
	return ""
}

// BuildGreenName returns a container name for a green copy that can coexist
// with blue: the base name plus a unique suffix.
func BuildGreenName(base string) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return base + "." + hex.EncodeToString(b[:]) // "." cannot occur in a workload name
}
