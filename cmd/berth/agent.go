package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
	"github.com/berthops/berth/internal/secretfile"
)

// minTokenBytes is the shortest API token accepted: with the API's backoff
// on wrong tokens, 16 random bytes cannot be guessed.
const minTokenBytes = 16

func newAgentCmd() *cobra.Command {
	var f runFlags
	var schedule, listen, tokenFile, webhookFile, hooksListen string
	var apiHosts []string
	var resync, heartbeat time.Duration
	cmd := &cobra.Command{
		Use:   "agent --repo URL|PATH",
		Short: "Run continuously: tick on a schedule, serve the HTTP API",
		Example: `  berth agent --repo https://git.example.com/ops/config.git --schedule "@every 1m"
  berth agent --repo ./config --router embedded --http 127.0.0.1:8080 --https ""`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := agent.Options{Schedule: schedule, Resync: resync, Heartbeat: heartbeat}
			web := api.Options{Listen: listen, APIHosts: apiHosts}
			if heartbeat == 0 {
				opts.Heartbeat = -1 // 0 means off on the command line, default in Options
			}
			var err error
			if resync <= 0 {
				return &exitError{code: 2, msg: "--resync must be positive"}
			}
			if listen != "" && !api.Loopback(listen) && tokenFile == "" {
				return &exitError{code: 2, msg: fmt.Sprintf("--listen %s accepts connections from other machines: set --api-token-file (or listen on 127.0.0.1)", listen)}
			}
			if tokenFile != "" {
				if web.Token, err = secretfile.Read(tokenFile); err != nil {
					return &exitError{code: 2, msg: fmt.Sprintf("--api-token-file: %v", err)}
				}
				if len(web.Token) < minTokenBytes {
					return &exitError{code: 2, msg: fmt.Sprintf("--api-token-file: the token has %d bytes; use at least %d random bytes (openssl rand -hex 32 > FILE)", len(web.Token), minTokenBytes)}
				}
			}
			if webhookFile != "" {
				if web.WebhookSecret, err = secretfile.Read(webhookFile); err != nil {
					return &exitError{code: 2, msg: fmt.Sprintf("--webhook-secret-file: %v", err)}
				}
			}
			rt, err := f.wire(cmd.Context(), cmd, opts)
			if err != nil {
				return err
			}
			defer rt.close()
			web.Branch, web.Redact = rt.agent.Branch(), rt.redactor.Redact
			web.CommitURL = f.commitURL()
			srv := api.New(rt.agent, rt.store, rt.log, web)
			for _, l := range []struct {
				addr string
				h    http.Handler
			}{{listen, srv.Handler()}, {hooksListen, srv.HooksHandler()}} {
				if l.addr == "" {
					continue
				}
				stop, err := api.Serve(cmd.Context(), l.addr, l.h, rt.log)
				if err != nil {
					return err
				}
				defer stop()
			}
			if listen != "" {
				// `berth sync` on this state dir asks this agent for a tick.
				addrFile := filepath.Join(f.state.dir, agentAddrFile)
				if err := os.WriteFile(addrFile, []byte("http://"+listen+"\n"), 0o600); err != nil {
					rt.log.Warn("recording the API address in the state dir failed", "error", err)
				}
				defer os.Remove(addrFile)
			}
			return rt.agent.Run(cmd.Context())
		},
	}
	f.register(cmd, "embedded")
	cmd.Flags().StringVar(&schedule, "schedule", "@every 1m", "when to tick (cron spec or @every DURATION)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9090", `HTTP API address ("" for none)`)
	cmd.Flags().StringVar(&tokenFile, "api-token-file", "", "file holding the bearer token the API requires")
	cmd.Flags().StringVar(&webhookFile, "webhook-secret-file", "", "file holding the secret that signs push webhooks (POST /hooks/git)")
	cmd.Flags().StringArrayVar(&apiHosts, "api-host", nil, "a name the API answers to besides localhost and IP addresses (repeatable; others are refused: DNS rebinding)")
	cmd.Flags().DurationVar(&resync, "resync", 10*time.Minute, "list every container this often besides following Docker's event stream (idle ticks ask Docker nothing)")
	cmd.Flags().DurationVar(&heartbeat, "heartbeat", 10*time.Minute, "rewrite the status report this often when idle, so `berth fleet` can tell a quiet agent (0: never; one commit each)")
	cmd.Flags().StringVar(&hooksListen, "hooks-listen", "", "serve only POST /hooks/git on this address (the one endpoint to expose to a forge)")
	return cmd
}
