package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
)

func newUpdatesCmd() *cobra.Command {
	return newListCmd("updates",
		"List the workloads that follow image updates (source.update): what each check found, and whether it was committed or proposed",
		`  berth updates
  berth updates --json | jq '.[] | select(.state == "failed")'`,
		"/api/updates", printUpdates)
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
