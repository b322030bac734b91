package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// openStore opens the state dir's database for reading.
func openStore(cmd *cobra.Command, stateDir string) (*store.Store, error) {
	path := filepath.Join(stateDir, "berth.db")
	if _, err := os.Stat(path); err != nil {
		return nil, &exitError{code: 2, msg: fmt.Sprintf("no state in %s (run `berth sync` or `berth agent` first, or pass --state-dir)", stateDir)}
	}
	return store.Open(cmd.Context(), path)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newStatusCmd() *cobra.Command {
	var state stateFlag
	var out outputFlags
	var c agentClient
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every workload's runtime state (from the running agent, else the state dir)",
		Example: `  berth status
  BERTH_AGENT=http://10.0.0.5:9090 berth status
  berth status --state-dir /var/lib/berth
  berth status --json | jq '.[] | select(.last_deploy == "failed")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if viaAgent(cmd, &c) {
				var views []agent.WorkloadView
				if _, err := c.do(cmd.Context(), http.MethodGet, "/api/workloads", nil, &views); err != nil {
					return err
				}
				if out.Format() == "json" {
					return writeJSON(cmd.OutOrStdout(), views)
				}
				return printStatus(cmd.OutOrStdout(), "", views)
			}
			st, err := openStore(cmd, state.dir)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.ListRuntime(cmd.Context())
			if err != nil {
				return err
			}
			views := agent.WorkloadViews(rows)
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), views)
			}
			commit, _ := st.Meta(cmd.Context(), "last_commit")
			return printStatus(cmd.OutOrStdout(), commit, views)
		},
	}
	state.register(cmd.Flags())
	out.register(cmd, "text", "json")
	c.register(cmd, 30*time.Second)
	return cmd
}

func printStatus(w io.Writer, commit string, rows []agent.WorkloadView) error {
	if commit != "" {
		fmt.Fprintf(w, "config commit: %.7s\n\n", commit)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "no workloads")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tSTATE\tSTRATEGY\tCONTAINER\tUPSTREAM\tCPU\tMEMORY\tRESTARTS\tUP\tUPDATED\tMESSAGE")
	for _, r := range rows {
		cpu, mem, restarts, up := usageColumns(r.Usage)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.WorkloadID, r.Summary, dash(r.Strategy),
			dash(r.ContainerName), dash(r.Upstream), cpu, mem, restarts, up, r.UpdatedAt.Local().Format(time.DateTime), r.Message)
	}
	return tw.Flush()
}

// usageColumns sums a workload's sampled containers: CPU, memory of its
// limit, restarts, and the uptime of the newest; "-" before a sample.
func usageColumns(us []docker.Usage) (cpu, mem, restarts, up string) {
	if len(us) == 0 {
		return "-", "-", "-", "-"
	}
	var c float64
	var m, limit int64
	var r int
	var started time.Time
	for _, u := range us {
		c, m, limit, r = c+u.CPUPercent, m+u.MemoryBytes, limit+u.MemoryLimit, r+u.Restarts
		if u.StartedAt.After(started) {
			started = u.StartedAt
		}
	}
	mem = sources.ByteSize(m).Human()
	if limit > 0 {
		mem += " / " + sources.ByteSize(limit).Human()
	}
	up = "-"
	if !started.IsZero() {
		up = time.Since(started).Round(time.Second).String()
	}
	return fmt.Sprintf("%.1f%%", c), mem, fmt.Sprint(r), up
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
