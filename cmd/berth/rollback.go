package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
)

func newRollbackCmd() *cobra.Command {
	var c agentClient
	var to string
	var withData bool
	cmd := &cobra.Command{
		Use:   "rollback APP/NAME [--to COMMIT] [--with-data]",
		Short: "Redeploy an earlier release on the running agent and pin it there until `berth resume`",
		Long: "Redeploys a kept release (default: the one before the serving one) with the workload's\n" +
			"strategy, from its recorded image (nothing is pulled or built), and pins the workload:\n" +
			"the agent does not roll it forward until `berth resume APP/NAME`.",
		Example: `  berth rollback shop/web
  berth rollback shop/web --to 3f2a9c1`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			var res api.RollbackResult
			code, err := c.do(cmd.Context(), http.MethodPost, p+"/rollback", map[string]any{"to": to, "with_data": withData}, &res)
			if err != nil {
				return err
			}
			if code == http.StatusConflict {
				return &exitError{code: 1, msg: fmt.Sprintf("the rollback of %s to %.7s failed: %s; now: %s", res.Workload, res.Commit, res.Reason, res.Now.Summary)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s rolled back to %.7s and pinned: %s\n", res.Workload, res.Commit, res.Now.Summary)
			return nil
		},
	}
	c.register(cmd, 15*time.Minute)
	cmd.Flags().StringVar(&to, "to", "", "the commit of the release (default: the one before the serving one)")
	cmd.Flags().BoolVar(&withData, "with-data", false, "first restore each volume from the newest snapshot taken while that release served")
	return cmd
}

func newResumeCmd() *cobra.Command {
	return newWorkloadOpCmd("resume", "Unpin or unsuspend a workload: the agent follows git again",
		"resumed: the next tick deploys what git says", `  berth resume shop/web`)
}

func newRetryCmd() *cobra.Command {
	return newWorkloadOpCmd("retry", "Try a failed version again now (it ends its backoff, or the hold after a failed recreate)",
		"will be tried again: the agent ticks now", `  berth retry shop/web`)
}

func newSuspendCmd() *cobra.Command {
	return newWorkloadOpCmd("suspend", "Stop reconciling a workload (no deploy, no self-heal) until `berth resume`",
		"suspended: what runs keeps running, untouched", `  berth suspend shop/web`)
}

func newWorkloadOpCmd(op, short, done, example string) *cobra.Command {
	var c agentClient
	cmd := &cobra.Command{
		Use:               op + " APP/NAME",
		Short:             short,
		Example:           example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			var v agent.WorkloadView
			if _, err := c.do(cmd.Context(), http.MethodPost, p+"/"+op, nil, &v); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s)\n", args[0], done, v.Summary)
			return nil
		},
	}
	c.register(cmd, time.Minute)
	return cmd
}
