package router

import (
	"bytes"
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
	last []byte // the config Caddy runs
}

var _ Driver = (*Embedded)(nil)

// NewEmbedded returns a driver for the in-process Caddy. opts.Admin may
// name an admin API address (for `berth proxy`); otherwise it is off.
func NewEmbedded(opts ConfigOptions) *Embedded {
	opts.StreamCloseDelay = true // the embedded Caddy is new enough
	opts.DynamicUpstreams = true
	registerUpstreamSource()
	registerHeldNetwork()
	return &Embedded{opts: opts}
}

// Load makes routes live. A change of upstreams only is an atomic swap of
// the live table: Caddy's config, and every connection, stays as it is.
// A change of hosts or routes loads a new config; Caddy starts it before
// it stops the old one and shares the listeners.
func (e *Embedded) Load(_ context.Context, routes []Route) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg, err := BuildConfig(routes, e.opts)
	if err != nil {
		return err
	}
	if bytes.Equal(cfg, e.last) {
		storeUpstreams(routes)
		storeMaintenance(routes)
		return nil
	}
	if e.last == nil {
		// The first config opens the listeners: they must be ours alone.
		if err := probePorts(e.opts.HTTP, e.opts.HTTPS); err != nil {
			return err
		}
	}
	// While the new config loads, both the old and the new routes resolve.
	prev := liveUpstreams.Load()
	if prev != nil {
		var old []Route
		for id, up := range *prev {
			old = append(old, Route{ID: id, Upstream: up})
		}
		storeUpstreams(old, routes)
	} else {
		storeUpstreams(routes)
	}
	prevMaint := liveMaintenance.Load()
	storeMaintenance(routes)
	if err := caddy.Load(cfg, false); err != nil {
		liveUpstreams.Store(prev) // the old config keeps running, with its upstreams
		liveMaintenance.Store(prevMaint)
		return fmt.Errorf("loading the embedded proxy config: %w", err)
	}
	e.last = cfg
	storeUpstreams(routes)
	storeMaintenance(routes)
	return nil
}

// Stop shuts the embedded proxy down.
func (e *Embedded) Stop() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = nil
	return caddy.Stop()
}
