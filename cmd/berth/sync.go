package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
	"github.com/berthops/berth/internal/statedir"
)

func newSyncCmd() *cobra.Command {
	var f runFlags
	var c agentClient
	cmd := &cobra.Command{
		Use:   "sync --repo URL|PATH",
		Short: "Run one tick (pull, deploy what changed, reconcile) and exit; non-zero if a deploy failed",
		Example: `  berth sync --repo https://git.example.com/ops/config.git --git-password-file /etc/berth/token
  berth sync --repo ./config --state-dir /var/lib/berth --identity /etc/berth/age.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("agent") {
				return syncViaAgent(cmd, &c)
			}
			rt, err := f.wire(cmd.Context(), cmd, agent.Options{})
			if errors.Is(err, statedir.ErrInUse) {
				// A running agent holds the state dir: ask it for the tick.
				b, rerr := os.ReadFile(filepath.Join(f.state.dir, agentAddrFile))
				if rerr != nil {
					return &exitError{code: 1, msg: err.Error() + " (to ask a running agent for a tick: berth sync --agent URL)", err: err}
				}
				c.url = strings.TrimSpace(string(b))
				fmt.Fprintf(cmd.ErrOrStderr(), "%v: asking that agent (%s) for a tick\n", err, c.url)
				return syncViaAgent(cmd, &c)
			}
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
	c.register(cmd, 30*time.Minute)
	return cmd
}

// agentAddrFile, in the state dir, holds the API address of the agent
// running on it.
const agentAddrFile = "agent-api"

// syncViaAgent asks a running agent for one tick and prints its result,
// exiting as a local sync would (1 when a deploy failed).
func syncViaAgent(cmd *cobra.Command, c *agentClient) error {
	var res api.SyncResult
	if _, err := c.do(cmd.Context(), http.MethodPost, "/api/sync?wait=1", nil, &res); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	switch {
	case res.NoOp:
		fmt.Fprintf(cmd.ErrOrStderr(), "up to date at %.7s\n", res.Commit)
	default:
		fmt.Fprintf(w, "tick at %.7s: deployed %d, failed %d, invalid %d\n", res.Commit, len(res.Deployed), len(res.Failed), len(res.Invalid))
		for _, r := range res.Reasons {
			fmt.Fprintln(w, "  "+r)
		}
	}
	if len(res.Failed) > 0 {
		return &exitError{code: 1, msg: res.Error}
	}
	if res.Error != "" {
		return errors.New(res.Error)
	}
	return nil
}
