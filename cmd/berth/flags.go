package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berthops/berth/policy"
)

// choice is a flag whose value is one of a fixed set. It checks the value
// when the flag is parsed and completes the set in the shell.
type choice struct {
	value   string
	allowed []string
}

var _ pflag.Value = (*choice)(nil)

func (c *choice) String() string { return c.value }

// Set accepts one of the allowed values.
func (c *choice) Set(v string) error {
	if !slices.Contains(c.allowed, v) {
		return fmt.Errorf("want one of %s", c.list())
	}
	c.value = v
	return nil
}

// Type names the values in help output ("text|json").
func (c *choice) Type() string { return strings.Join(c.allowed, "|") }

func (c *choice) list() string {
	quoted := make([]string, len(c.allowed))
	for i, a := range c.allowed {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(quoted, ", ")
}

// addChoice registers a choice flag on fs and its shell completion on cmd.
func addChoice(cmd *cobra.Command, fs *pflag.FlagSet, name, def, usage string, allowed ...string) *choice {
	c := &choice{value: def, allowed: allowed}
	fs.Var(c, name, usage)
	_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return allowed, cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

// stateFlag is --state-dir, the same on every command that reads or
// writes Berth's state.
type stateFlag struct{ dir string }

func (s *stateFlag) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.dir, "state-dir", ".berth", "Berth's state dir (database, clone, route table)")
}

// logFlags are --log-level and --log-format.
type logFlags struct{ level, format *choice }

func (l *logFlags) register(cmd *cobra.Command, fs *pflag.FlagSet) {
	l.level = addChoice(cmd, fs, "log-level", "info", "how much to log", "debug", "info", "warn", "error")
	l.format = addChoice(cmd, fs, "log-format", "text", "log lines for people (text) or log shippers (json)", "text", "json")
}

// outputFlags are --format and its shorthand --json: the same meaning on
// every command that prints a report.
type outputFlags struct {
	format *choice
	json   bool
}

func (o *outputFlags) register(cmd *cobra.Command, formats ...string) {
	o.format = addChoice(cmd, cmd.Flags(), "format", formats[0], "output format", formats...)
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON (the same as --format json)")
}

// Format is the chosen output format.
func (o *outputFlags) Format() string {
	if o.json {
		return "json"
	}
	return o.format.value
}

// allowFlag is --allow: the permissions a commit may use (policy words,
// comma-separated), checked when parsed and completed in the shell.
type allowFlag struct {
	raw    string
	policy policy.Policy
}

var _ pflag.Value = (*allowFlag)(nil)

func (a *allowFlag) String() string { return a.raw }

// Set parses a comma-separated list of permissions.
func (a *allowFlag) Set(v string) error {
	p, err := policy.Parse(v)
	if err != nil {
		return err
	}
	a.raw, a.policy = v, p
	return nil
}

// Type names the values in help output.
func (a *allowFlag) Type() string { return "list" }

func (a *allowFlag) register(cmd *cobra.Command) {
	a.policy = policy.Policy{}
	cmd.Flags().Var(a, "allow", "what a commit may ask of the host (default: nothing): "+policy.Words())
	_ = cmd.RegisterFlagCompletionFunc("allow", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		words := make([]string, len(policy.All))
		for i, p := range policy.All {
			words[i] = string(p)
		}
		return words, cobra.ShellCompDirectiveNoFileComp
	})
}
