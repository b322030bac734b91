package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
)

func newPreviewsCmd() *cobra.Command {
	return newListCmd("previews",
		"List the preview environments: each pull request or preview branch with a running copy of what it changes, waiting for one, or refused one",
		`  berth previews
  berth previews --json | jq '.[] | select(.state != "running")'`,
		"/api/previews", printPreviews)
}

func printPreviews(w io.Writer, list []agent.Preview) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no previews: none is configured (previews: in berth.yaml or app.yaml), or no pull request or preview branch changes a workload")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREVIEW\tFROM\tCOMMIT\tSTATE\tURL\tWORKLOADS")
	for _, p := range list {
		from := p.Branch
		if p.PullRequest != 0 {
			from = fmt.Sprintf("#%d %s", p.PullRequest, p.Author)
		}
		state := p.State
		if p.Reason != "" {
			state += ": " + p.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Slug, from, p.Commit[:min(len(p.Commit), 7)], state, dash(p.URL), strings.Join(p.Workloads, ", "))
	}
	return tw.Flush()
}
