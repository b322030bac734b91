package main

import (
	"github.com/spf13/cobra"

	"github.com/berthops/berth/router"
)

func newProxyCmd() *cobra.Command {
	var httpAddr, httpsAddr, admin string
	var state stateFlag
	var acme acmeFlags
	var logs logFlags
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the embedded proxy on its own, with an admin API for agents (--router caddy)",
		Long: "Runs Caddy inside berth with its admin API on --admin, so the proxy outlives agent restarts.\n" +
			"Point agents at it with --router caddy --caddy-admin http://ADMIN (or unix:///PATH: a socket only\n" +
			"the proxy's user and group reach, as the packaged berth-proxy.service uses). Agents may change routes\n" +
			"only; the proxy saves them in --state-dir before it answers, and a restarted proxy serves\n" +
			"them on its own listeners (the flags) before its admin API opens.",
		Example: `  berth proxy --http :80 --https :443 --admin unix:///run/berth-proxy/admin.sock --state-dir /var/lib/berth-proxy
  berth proxy --http :80 --https :443 --admin 127.0.0.1:2019 --state-dir /var/lib/berth-proxy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logs.format.value, logs.level.value)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			p, err := router.StartProxy(router.ProxyOptions{HTTP: httpAddr, HTTPS: httpsAddr, Admin: admin, StateDir: state.dir, ACME: acme.options(), Log: log})
			if err != nil {
				return err
			}
			log.Info("proxy running", "http", httpAddr, "https", httpsAddr, "admin", admin, "routes", p.Routes())
			<-cmd.Context().Done()
			log.Info("proxy stopping")
			return p.Stop()
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", ":80", "HTTP listen address")
	cmd.Flags().StringVar(&httpsAddr, "https", ":443", `HTTPS listen address ("" turns TLS off)`)
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:2019", "admin API listen address (host:port, or unix:///PATH for a 0660 socket)")
	acme.register(cmd.Flags())
	state.register(cmd.Flags())
	logs.register(cmd, cmd.Flags())
	return cmd
}
