package gitops

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func secretLabel(s SecretChange) string {
	if s.App != "" {
		return fmt.Sprintf("%s (app %s)", s.Name, s.App)
	}
	return s.Name + " (global)"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// signatureLine says whether the agent would deploy the head, when
// signatures were checked.
func (p *Plan) signatureLine(prefix string) string {
	sig := p.HeadSignature
	if sig == nil {
		return ""
	}
	if sig.Verified {
		return prefix + sig.String() + "\n"
	}
	return prefix + sig.String() + ": agents with --trusted-signers will not deploy it\n"
}

// WriteText renders the plan for a terminal.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	if !p.Changed() {
		fmt.Fprintf(&b, "berth plan %s..%s: no changes\n", short(p.Base), short(p.Head))
		b.WriteString(p.signatureLine("head: "))
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "berth plan %s..%s: %d workload(s), %d secret(s) change\n", short(p.Base), short(p.Head), len(p.Workloads), len(p.Secrets))
	if p.Fleet != "" {
		fmt.Fprintf(&b, "agents: %d known from %s\n", p.KnownAgents, p.Fleet)
	}
	b.WriteString(p.signatureLine("head: "))
	sign := map[string]string{"added": "+", "removed": "-", "changed": "~"}
	for _, c := range p.Workloads {
		fmt.Fprintf(&b, "\n%s %s (%s)\n", sign[c.Change], c.ID, c.Change)
		if s := c.Strategy; s != nil {
			switch c.Change {
			case "added":
				fmt.Fprintf(&b, "    strategy: %s\n", s.To)
			case "removed":
				fmt.Fprintf(&b, "    strategy was: %s\n", s.From)
			default:
				fmt.Fprintf(&b, "    strategy: %s → %s\n", s.From, s.To)
			}
		}
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "    %s: %s → %s\n", f.Field, orNone(f.From), orNone(f.To))
		}
		if line := c.agentsLine(); line != "" {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	if len(p.Secrets) > 0 {
		b.WriteString("\nshared secrets (names only):\n")
		for _, s := range p.Secrets {
			fmt.Fprintf(&b, "  %s %s\n", s.Change, secretLabel(s))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown renders the plan for a pull-request comment.
func (p *Plan) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Berth plan `%s` → `%s`\n\n", short(p.Base), short(p.Head))
	if line := p.signatureLine("**Signature:** "); line != "" {
		b.WriteString(line + "\n")
	}
	if !p.Changed() {
		b.WriteString("No changes.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	var strat []WorkloadChange
	for _, c := range p.Workloads {
		if c.Strategy != nil && c.Change == "changed" {
			strat = append(strat, c)
		}
	}
	if len(strat) > 0 {
		b.WriteString("**Strategy changes**\n\n| workload | before | after |\n|---|---|---|\n")
		for _, c := range strat {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.ID, c.Strategy.From, c.Strategy.To)
		}
		b.WriteString("\n")
	}
	b.WriteString("**Workloads**\n\n")
	for _, c := range p.Workloads {
		fmt.Fprintf(&b, "- **%s** `%s`", c.Change, c.ID)
		switch {
		case c.Change == "added" && c.Strategy != nil:
			fmt.Fprintf(&b, " (%s)", c.Strategy.To)
		case c.Change == "removed" && c.Strategy != nil:
			fmt.Fprintf(&b, " (was %s)", c.Strategy.From)
		}
		b.WriteString("\n")
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "  - `%s`: `%s` → `%s`\n", f.Field, orNone(f.From), orNone(f.To))
		}
		if line := c.agentsLine(); line != "" {
			fmt.Fprintf(&b, "  - %s\n", line)
		}
	}
	if len(p.Secrets) > 0 {
		b.WriteString("\n**Shared secrets** (names only)\n\n")
		for _, s := range p.Secrets {
			fmt.Fprintf(&b, "- %s `%s`\n", s.Change, secretLabel(s))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON renders the plan for tools.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}
