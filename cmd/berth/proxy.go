package main

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/sources/router"
)

func newProxyCmd() *cobra.Command {
	var httpAddr, httpsAddr, admin string
	var state stateFlag
	var logs logFlags
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the embedded proxy on its own, with an admin API for agents (--router caddy)",
		Long: "Runs Caddy inside berth with its admin API on --admin, so the proxy outlives agent restarts.\n" +
			"Point agents at it with --router caddy --caddy-admin http://ADMIN. With --state-dir it starts\n" +
			"from the route table an agent saved there.",
		Example: `  berth proxy --http :80 --https :443 --admin 127.0.0.1:2019 --state-dir /var/lib/berth-proxy`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logs.format.value, logs.level.value)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			drv := router.NewEmbedded(router.ConfigOptions{HTTP: httpAddr, HTTPS: httpsAddr, Admin: admin, StorageDir: filepath.Join(state.dir, "caddy")})
			r, err := router.New(drv, filepath.Join(state.dir, "routes.json"))
			if err != nil {
				return err
			}
			if err := r.Apply(cmd.Context()); err != nil {
				return err
			}
			log.Info("proxy running", "http", httpAddr, "https", httpsAddr, "admin", admin, "routes", len(r.Routes()))
			<-cmd.Context().Done()
			log.Info("proxy stopping")
			return drv.Stop()
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", ":80", "HTTP listen address")
	cmd.Flags().StringVar(&httpsAddr, "https", ":443", `HTTPS listen address ("" turns TLS off)`)
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:2019", "admin API listen address")
	state.register(cmd.Flags())
	logs.register(cmd, cmd.Flags())
	return cmd
}
