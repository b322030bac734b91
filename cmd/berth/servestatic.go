package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/sources/static"
)

// newServeStaticCmd is the server inside static-site images (hidden: Berth
// runs it in the containers it builds).
func newServeStaticCmd() *cobra.Command {
	var dir, listen string
	var spa bool
	cmd := &cobra.Command{
		Use:    "serve-static",
		Short:  "Serve a static site folder (runs inside static-site containers)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv := &http.Server{Addr: listen, Handler: static.Handler(dir, spa), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "/site", "site folder")
	cmd.Flags().StringVar(&listen, "listen", ":8080", "listen address")
	cmd.Flags().BoolVar(&spa, "spa", false, "serve /index.html for paths that match no file")
	return cmd
}
