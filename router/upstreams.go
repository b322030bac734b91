package router

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// The embedded proxy reads each route's upstream from this table on every
// request (a Caddy dynamic-upstreams module), so swapping an upstream is an
// atomic pointer store: no config reload, no listener handover, nothing a
// request can fall between. Caddy builds its modules from JSON by name, so
// the table the module reads has to be reachable from the package; there
// is one embedded Caddy per process, and so one table.
var liveUpstreams atomic.Pointer[map[string]string]

var registerOnce sync.Once

func registerUpstreamSource() {
	registerOnce.Do(func() {
		caddy.RegisterModule(upstreamSource{})
		caddy.RegisterModule(maintenanceHandler{})
	})
}

// upstreamSource is the http.reverse_proxy.upstreams.berth module.
type upstreamSource struct {
	Route string `json:"route"`
}

var _ reverseproxy.UpstreamSource = (*upstreamSource)(nil)

// CaddyModule registers the module.
func (upstreamSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.upstreams.berth",
		New: func() caddy.Module { return new(upstreamSource) },
	}
}

// GetUpstreams returns the route's current upstreams. Caddy fills in the
// returned values, so each request gets its own.
func (s *upstreamSource) GetUpstreams(*http.Request) ([]*reverseproxy.Upstream, error) {
	if m := liveUpstreams.Load(); m != nil {
		if addr, ok := (*m)[s.Route]; ok && addr != "" {
			addrs := SplitAddrs(addr)
			out := make([]*reverseproxy.Upstream, len(addrs))
			for i, a := range addrs {
				out[i] = &reverseproxy.Upstream{Dial: a}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("no upstream for route %s", s.Route)
}

func storeUpstreams(routes ...[]Route) {
	m := map[string]string{}
	for _, rs := range routes {
		for _, r := range rs {
			m[r.ID] = r.Upstream
		}
	}
	liveUpstreams.Store(&m)
}
