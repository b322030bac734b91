package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/berthops/berth/router"
)

// newRouter builds the route table and its driver for --router. "auto"
// (sync's default) uses the Caddy at --caddy-admin only when `berth proxy`
// started it; a Caddy someone else runs is used only with --router caddy.
// It returns nil for none.
func (f *runFlags) newRouter(ctx context.Context, log *slog.Logger) (*router.Router, func(), error) {
	opts := router.ConfigOptions{HTTP: f.httpAddr, HTTPS: f.httpsAddr, StorageDir: filepath.Join(f.state.dir, "caddy"), Agent: f.agentName,
		ACME: f.acme.options()}
	path := filepath.Join(f.state.dir, "routes.json")
	mode := f.router.value
	if mode == "auto" {
		mode = f.autoRouter(ctx, log, opts)
	}
	switch mode {
	case "caddy":
		opts.StorageDir = "" // the external Caddy keeps its own certificates
		drv, err := router.NewAdmin(f.caddyAdmin, opts)
		if err != nil {
			return nil, nil, &exitError{code: 2, msg: err.Error()}
		}
		r, err := router.New(drv, path)
		if err != nil {
			return nil, nil, err
		}
		if err := r.Apply(ctx); err != nil {
			return nil, nil, fmt.Errorf("loading routes into Caddy: %w", err)
		}
		log.Info("router: external Caddy", "admin", f.caddyAdmin)
		return r, func() {}, nil
	case "embedded":
		drv := router.NewEmbedded(opts)
		r, err := router.New(drv, path)
		if err != nil {
			return nil, nil, err
		}
		if err := r.Apply(ctx); err != nil {
			return nil, nil, fmt.Errorf("starting the embedded proxy on %s: %w", f.httpAddr, err)
		}
		log.Info("router: embedded Caddy", "http", f.httpAddr, "https", f.httpsAddr)
		return r, func() {
			if err := drv.Stop(); err != nil {
				log.Warn("stopping the embedded proxy", "error", err)
			}
		}, nil
	default:
		return nil, func() {}, nil
	}
}

// autoRouter picks "caddy" when the Caddy at --caddy-admin is a `berth
// proxy`, else "none".
func (f *runFlags) autoRouter(ctx context.Context, log *slog.Logger, opts router.ConfigOptions) string {
	adm, err := router.NewAdmin(f.caddyAdmin, opts)
	if err != nil {
		return "none"
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ours, err := adm.StartedByBerth(pctx)
	switch {
	case err != nil:
		return "none"
	case !ours:
		log.Warn("router: a Caddy answers at --caddy-admin but Berth did not start it; not touching it (use --router caddy to add routes to it)",
			"admin", f.caddyAdmin)
		return "none"
	}
	return "caddy"
}
