package main

import (
	"github.com/spf13/cobra"

	"github.com/berthops/berth/sources/static/site"
)

// newServeStaticCmd is the site server (hidden: static-site images run
// berth-site, which takes the same command line; this is the fallback when
// berth-site is not installed beside berth).
func newServeStaticCmd() *cobra.Command {
	var dir, listen string
	var spa bool
	cmd := &cobra.Command{
		Use:    "serve-static",
		Short:  "Serve a static site folder (runs inside static-site containers)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return site.Serve(cmd.Context(), dir, listen, spa)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "/site", "site folder")
	cmd.Flags().StringVar(&listen, "listen", ":8080", "listen address")
	cmd.Flags().BoolVar(&spa, "spa", false, "serve /index.html for paths that match no file")
	return cmd
}
