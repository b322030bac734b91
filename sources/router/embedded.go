package router

import (
	"context"
	"fmt"
	"sync"

	"github.com/caddyserver/caddy/v2"

	// The Caddy modules the rendered config uses.
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	_ "github.com/caddyserver/caddy/v2/modules/caddypki"
	_ "github.com/caddyserver/caddy/v2/modules/caddytls"
	_ "github.com/caddyserver/caddy/v2/modules/filestorage"
)

// Embedded runs Caddy inside this process. Caddy keeps one running config
// per process, so there is at most one Embedded at a time.
type Embedded struct {
	opts ConfigOptions
	mu   sync.Mutex
}

var _ Driver = (*Embedded)(nil)

// NewEmbedded returns a driver for the in-process Caddy. opts.Admin may
// name an admin API address (for `berth proxy`); otherwise it is off.
func NewEmbedded(opts ConfigOptions) *Embedded {
	opts.StreamCloseDelay = true // the embedded Caddy is new enough
	return &Embedded{opts: opts}
}

// Load replaces the running config. Caddy starts the new config before it
// stops the old one and shares the listeners, so no request is refused.
func (e *Embedded) Load(_ context.Context, routes []Route) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg, err := BuildConfig(routes, e.opts)
	if err != nil {
		return err
	}
	if err := caddy.Load(cfg, false); err != nil {
		return fmt.Errorf("loading the embedded proxy config: %w", err)
	}
	return nil
}

// Stop shuts the embedded proxy down.
func (e *Embedded) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return caddy.Stop()
}
