package site

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

// Main runs the site server with command-line args: [serve-static]
// --dir DIR --listen ADDR [--spa]. It serves until SIGTERM or SIGINT, then
// lets requests in flight finish (5 s).
func Main(args []string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve-static" {
		args = args[1:] // the same command line as `berth serve-static`
	}
	fs := flag.NewFlagSet("berth-site", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "/site", "site folder")
	listen := fs.String("listen", ":8080", "listen address")
	spa := fs.Bool("spa", false, "serve /index.html for paths that match no file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return Serve(ctx, *dir, *listen, *spa)
}

// Serve serves dir on listen until ctx ends.
func Serve(ctx context.Context, dir, listen string, spa bool) error {
	srv := &http.Server{Addr: listen, Handler: Handler(dir, spa), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving %s: %w", dir, err) // never listened: nothing to drain
	}
	<-done
	return nil
}
