package main

import (
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
)

func newUpdatesCmd() *cobra.Command {
	var c agentClient
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "updates",
		Short: "List the workloads that follow image updates (source.update): what each check found, and whether it was committed or proposed",
		Example: `  berth updates
  berth updates --json | jq '.[] | select(.state == "failed")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ups []agent.PendingUpdate
			if _, err := c.do(cmd.Context(), http.MethodGet, "/api/updates", nil, &ups); err != nil {
				return err
			}
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), ups)
			}
			return printUpdates(cmd.OutOrStdout(), ups)
		},
	}
	c.register(cmd, 30*time.Second)
	out.register(cmd, "text", "json")
	return cmd
}

func printUpdates(w io.Writer, ups []agent.PendingUpdate) error {
	if len(ups) == 0 {
		_, err := fmt.Fprintln(w, "no workload follows image updates here (source.update), or none was checked yet")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tPOLICY\tCURRENT\tCANDIDATE\tSTATE\tCHECKED")
	for _, u := range ups {
		state := u.State
		switch {
		case u.Error != "":
			state += ": " + u.Error
		case u.URL != "":
			state += " " + u.URL
		case u.Commit != "":
			state += " " + u.Commit[:min(len(u.Commit), 7)]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Workload, u.Policy, u.Current, u.Candidate, state, u.CheckedAt.Local().Format("15:04:05"))
	}
	return tw.Flush()
}
