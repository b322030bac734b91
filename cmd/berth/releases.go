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

func newReleasesCmd() *cobra.Command {
	var c agentClient
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "releases [APP/NAME]",
		Short: "List a workload's releases (or every workload's) on the running agent, newest first",
		Example: `  berth releases
  berth releases shop/web
  berth releases shop/web --json | jq '.[0].commit'`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return allReleases(cmd, &c, out.Format() == "json")
			}
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			var rels []agent.ReleaseView
			if _, err := c.do(cmd.Context(), http.MethodGet, p+"/releases", nil, &rels); err != nil {
				return err
			}
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), rels)
			}
			return printReleases(cmd.OutOrStdout(), rels)
		},
	}
	c.register(cmd, 30*time.Second)
	out.register(cmd, "text", "json")
	return cmd
}

func printReleases(w io.Writer, rels []agent.ReleaseView) error {
	if len(rels) == 0 {
		fmt.Fprintln(w, "no releases")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMIT\tHASH\tIMAGE\tDIGEST\tSTRATEGY\tDEPLOYED\t")
	for _, r := range rels {
		mark := ""
		if r.Serving {
			mark = "serving"
		}
		if r.Pinned {
			mark += " (pinned)"
		}
		fmt.Fprintf(tw, "%.7s\t%.12s\t%s\t%s\t%s\t%s\t%s\n", r.Commit, r.Hash, dash(r.Image), dash(shortDigest(r.ImageDigest, r.ImageID)),
			r.Strategy, r.CreatedAt.Local().Format(time.DateTime), mark)
	}
	return tw.Flush()
}

func shortDigest(digest, id string) string {
	if digest == "" {
		digest = id
	}
	if i := len(digest) - 64; i > 0 && len(digest) > 71 {
		return digest[:i+12]
	}
	return digest
}

// allReleases lists every workload's releases, workload by workload.
func allReleases(cmd *cobra.Command, c *agentClient, asJSON bool) error {
	var views []agent.WorkloadView
	if _, err := c.do(cmd.Context(), http.MethodGet, "/api/workloads", nil, &views); err != nil {
		return err
	}
	all := map[string][]agent.ReleaseView{}
	w := cmd.OutOrStdout()
	for i, v := range views {
		p, err := workloadPath(v.WorkloadID)
		if err != nil {
			continue
		}
		var rels []agent.ReleaseView
		if _, err := c.do(cmd.Context(), http.MethodGet, p+"/releases", nil, &rels); err != nil {
			return err
		}
		all[v.WorkloadID] = rels
		if !asJSON {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s:\n", v.WorkloadID)
			if err := printReleases(w, rels); err != nil {
				return err
			}
		}
	}
	if asJSON {
		return writeJSON(w, all)
	}
	if len(views) == 0 {
		fmt.Fprintln(w, "no workloads")
	}
	return nil
}
