package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent/store"
)

func newRunCmd() *cobra.Command {
	var c agentClient
	cmd := &cobra.Command{
		Use:               "run APP/NAME",
		Short:             "Start a run of a job now, on the running agent (berth jobs shows how it went)",
		Example:           `  berth run shop/cleanup && sleep 5 && berth jobs shop/cleanup`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			code, err := c.do(cmd.Context(), http.MethodPost, p+"/run", nil, nil)
			if err != nil {
				return err
			}
			if code == http.StatusConflict {
				return &exitError{code: 1, msg: args[0] + " is running now and forbids overlapping runs (job.concurrency: forbid)"}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s started (berth jobs %s)\n", args[0], args[0])
			return nil
		},
	}
	c.register(cmd, 30*time.Second)
	return cmd
}

func newJobsCmd() *cobra.Command {
	var c agentClient
	var out outputFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "jobs [APP/NAME]",
		Short: "List the runs of jobs and before_deploy tasks on the running agent, newest first",
		Example: `  berth jobs
  berth jobs shop/cleanup --json | jq '.[0].exit_code'`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			if len(args) == 1 {
				if _, err := workloadPath(args[0]); err != nil {
					return err
				}
				q.Set("workload", args[0])
			}
			var runs []store.Run
			if _, err := c.do(cmd.Context(), http.MethodGet, "/api/runs?"+q.Encode(), nil, &runs); err != nil {
				return err
			}
			if out.Format() == "json" {
				return writeJSON(cmd.OutOrStdout(), runs)
			}
			return printRuns(cmd.OutOrStdout(), runs)
		},
	}
	c.register(cmd, 30*time.Second)
	out.register(cmd, "text", "json")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs to show")
	return cmd
}

func printRuns(w io.Writer, runs []store.Run) error {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tTASK\tTRIGGER\tSTARTED\tDURATION\tEXIT\tLAST OUTPUT")
	for _, r := range runs {
		exit := fmt.Sprint(r.ExitCode)
		if r.TimedOut {
			exit += " (timed out)"
		}
		if r.Error != "" {
			exit = "error"
		}
		lines := strings.Split(strings.TrimSpace(r.OutputTail), "\n")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.WorkloadID, r.Task, r.Trigger, r.StartedAt.Local().Format(time.DateTime),
			(time.Duration(r.DurationMS) * time.Millisecond).String(), exit, dash(lines[len(lines)-1]))
	}
	return tw.Flush()
}
