package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
)

func newAgentCmd() *cobra.Command {
	var f runFlags
	var schedule, listen, tokenFile, webhookFile string
	cmd := &cobra.Command{
		Use:   "agent --repo URL|PATH",
		Short: "Run continuously: tick on a schedule, serve the HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := agent.Options{Schedule: schedule, Listen: listen}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("--api-token-file: %w", err)
				}
				opts.Token = strings.TrimSpace(string(b))
			}
			if webhookFile != "" {
				b, err := os.ReadFile(webhookFile)
				if err != nil {
					return fmt.Errorf("--webhook-secret-file: %w", err)
				}
				opts.WebhookSecret = strings.TrimSpace(string(b))
			}
			rt, err := f.wire(cmd.Context(), cmd, opts)
			if err != nil {
				return err
			}
			defer rt.close()
			return rt.agent.Run(cmd.Context())
		},
	}
	f.register(cmd, "embedded")
	cmd.Flags().StringVar(&schedule, "schedule", "@every 1m", "when to tick (cron spec or @every DURATION)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9090", `HTTP API address ("" for none)`)
	cmd.Flags().StringVar(&tokenFile, "api-token-file", "", "file holding the bearer token the API requires")
	cmd.Flags().StringVar(&webhookFile, "webhook-secret-file", "", "file holding the secret that signs push webhooks (POST /hooks/git)")
	return cmd
}
