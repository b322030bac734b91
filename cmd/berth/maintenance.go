package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
)

func newMaintenanceCmd() *cobra.Command {
	var c agentClient
	cmd := &cobra.Command{
		Use:   "maintenance APP/NAME on|off",
		Short: "Put a workload's route in maintenance (503 with a page; the app keeps running) until turned off",
		Long: `maintenance on makes the proxy answer every request for the workload's hosts with
503, Retry-After and its maintenance page (route.maintenance_page, or a plain page in the
visitor's language); the app keeps running, and deploys go on behind the page. It lasts,
across restarts, until "maintenance off". It is not a pin. route.maintenance: true in git
does the same from the config repo.`,
		Example:           `  berth maintenance shop/web on && berth maintenance shop/web off`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: c.completeWorkloads,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := workloadPath(args[0])
			if err != nil {
				return err
			}
			on := map[string]string{"on": "true", "off": "false"}[args[1]]
			if on == "" {
				return &exitError{code: 2, msg: fmt.Sprintf("%q: say on or off", args[1])}
			}
			var v agent.WorkloadView
			if _, err := c.do(cmd.Context(), http.MethodPost, p+"/maintenance?on="+on, nil, &v); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: maintenance %s\n", args[0], args[1])
			return nil
		},
	}
	c.register(cmd, 30*time.Second)
	return cmd
}
