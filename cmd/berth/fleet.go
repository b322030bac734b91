package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/gitops"
)

func newFleetCmd() *cobra.Command {
	var repo, branch string
	var creds gitops.Credentials
	var timeout time.Duration
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "fleet [--repo URL|DIR]",
		Short: "Show every agent and workload from the status branch, and the agents gone quiet",
		Long: "Reads every agent's folder on the status branch (a shallow fetch of that branch alone,\n" +
			"for a URL or a clone's origin; a folder without origin is read as it is) and prints\n" +
			"the agents (labels, config commit, last report, quiet or not) and each workload on each\n" +
			"agent. An agent is quiet when it has reported nothing for 3 × the longer of its\n" +
			"schedule interval and its --heartbeat.",
		Example: `  berth fleet --repo https://git.example.com/ops/config.git
  berth fleet --repo . --json | jq '.agents[] | select(.quiet) | .agent'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if repo == "" {
				repo = "."
			}
			f, err := readFleet(cmd.Context(), cmd.ErrOrStderr(), repo, branch, creds, timeout)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			for _, p := range f.Problems {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", p)
			}
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), f)
			}
			return printFleet(cmd.OutOrStdout(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&repo, "repo", "", "config repo URL, or a local clone (default: the current folder)")
	fs.StringVar(&branch, "status-branch", "berth/status", "the branch agents push status to")
	fs.StringVar(&creds.Username, "git-username", "git", "user name for http(s) git auth")
	fs.StringVar(&creds.PasswordFile, "git-password-file", "", "file holding the http(s) password or token")
	fs.StringVar(&creds.SSHKeyFile, "ssh-key-file", "", "private key file for ssh git URLs")
	fs.StringVar(&creds.KnownHosts, "ssh-known-hosts", "", "known_hosts file for ssh git URLs (default ~/.ssh/known_hosts)")
	fs.DurationVar(&timeout, "git-timeout", 2*time.Minute, "deadline of the fetch")
	out.register(cmd, "text", "json")
	return cmd
}

// readFleet reads a URL with a shallow fetch; a clone through its origin
// (the same fetch), or from its own refs when origin cannot be reached or
// it has none (it is the repo agents push to).
func readFleet(ctx context.Context, stderr io.Writer, repo, branch string, creds gitops.Credentials, timeout time.Duration) (*gitops.Fleet, error) {
	if st, err := os.Stat(repo); err == nil && st.IsDir() {
		origin := gitops.OriginURL(repo)
		if origin == "" {
			return gitops.OpenFleet(repo, branch, time.Now())
		}
		f, err := fetchFleet(ctx, origin, branch, creds, timeout)
		if err == nil {
			return f, nil
		}
		fmt.Fprintf(stderr, "warning: reading the status branch from origin failed, showing %s as of its last fetch: %v\n", repo, err)
		return gitops.OpenFleet(repo, branch, time.Now())
	}
	return fetchFleet(ctx, repo, branch, creds, timeout)
}

func fetchFleet(ctx context.Context, repo, branch string, creds gitops.Credentials, timeout time.Duration) (*gitops.Fleet, error) {
	now := time.Now()
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("reading the status branch took longer than --git-timeout %s", timeout))
	defer cancel()
	f, err := gitops.FetchFleet(ctx, repo, branch, creds, now)
	if err != nil && ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return f, err
}

func printFleet(w io.Writer, f *gitops.Fleet) error {
	quiet := 0
	for _, a := range f.Agents {
		if a.Quiet {
			quiet++
		}
	}
	fmt.Fprintf(w, "status branch %s at %.7s: %d agent(s), %d workload(s)", f.Branch, f.Commit, len(f.Agents), len(f.Workloads))
	if quiet > 0 {
		fmt.Fprintf(w, ", %d quiet", quiet)
	}
	fmt.Fprint(w, "\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tLABELS\tCONFIG\tLAST REPORT\tWORKLOADS\tNOTE")
	for _, a := range f.Agents {
		note := ""
		if a.Quiet {
			note = fmt.Sprintf("QUIET: nothing for %s (quiet after %s)", ago(f.Now, a.LastSeen), a.QuietAfter)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.7s\t%s\t%d\t%s\n", a.Agent, dash(labelList(a.Labels)), dash(a.Commit), ago(f.Now, a.LastSeen), len(a.Workloads), note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(f.Workloads) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tAGENT\tSTATE\tCOMMIT\tUPDATED\tMESSAGE")
	for _, id := range f.Workloads {
		for _, a := range f.Agents {
			ws, ok := a.Workloads[id]
			if !ok {
				continue
			}
			state := ws.State
			if a.Quiet {
				state += " (agent quiet)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.7s\t%s\t%s\n", id, a.Agent, state, dash(ws.Commit), ago(f.Now, ws.UpdatedAt), ws.Message)
		}
	}
	return tw.Flush()
}

func labelList(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// ago says how long before now t was, in the largest whole unit.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(max(d, 0).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
