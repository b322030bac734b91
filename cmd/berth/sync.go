package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
)

func newSyncCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "sync --repo URL|PATH",
		Short: "Run one tick (pull, deploy what changed, reconcile) and exit; non-zero if a deploy failed",
		Example: `  berth sync --repo https://git.example.com/ops/config.git --git-password-file /etc/berth/token
  berth sync --repo ./config --state-dir /var/lib/berth --identity /etc/berth/age.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rt, err := f.wire(cmd.Context(), cmd, agent.Options{})
			if err != nil {
				return err
			}
			defer rt.close()
			res, err := rt.agent.Tick(cmd.Context())
			fctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), f.timeouts.Forge)
			rt.agent.Flush(fctx) // the commit statuses still queued
			cancel()
			if err != nil {
				if errors.Is(err, agent.ErrDeployFailed) {
					return &exitError{code: 1, msg: err.Error()}
				}
				return err
			}
			if res.NoOp {
				fmt.Fprintf(cmd.ErrOrStderr(), "up to date at %.7s\n", res.Commit)
			}
			return nil
		},
	}
	f.register(cmd, "auto")
	return cmd
}
