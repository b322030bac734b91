package router

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The embedded proxy decides maintenance per request from this table (a
// Caddy handler module in front of every route's reverse_proxy), so
// turning it on or off is an atomic pointer store, like an upstream swap:
// no config reload, no listener handover, no request dropped.
var liveMaintenance atomic.Pointer[map[string]*Maintenance]

// maintenanceHandler is the http.handlers.berth_maintenance module.
type maintenanceHandler struct {
	Route string `json:"route"`
}

var _ caddyhttp.MiddlewareHandler = (*maintenanceHandler)(nil)

// CaddyModule registers the module.
func (maintenanceHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.berth_maintenance",
		New: func() caddy.Module { return new(maintenanceHandler) },
	}
}

// ServeHTTP answers with the maintenance page while the route is in
// maintenance, and passes the request on otherwise.
func (h *maintenanceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	var m *Maintenance
	if t := liveMaintenance.Load(); t != nil {
		m = (*t)[h.Route]
	}
	if m == nil {
		return next.ServeHTTP(w, r)
	}
	page := m.Page
	if page == "" {
		page = maintenancePageEN
		if strings.HasPrefix(strings.TrimSpace(strings.ToLower(r.Header.Get("Accept-Language"))), "ru") {
			page = maintenancePageRU
		}
	}
	retry := m.RetryAfter
	if retry <= 0 {
		retry = 120
	}
	w.Header().Set("Retry-After", fmt.Sprint(retry))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, err := w.Write([]byte(page))
	return err
}

func storeMaintenance(routes []Route) {
	m := map[string]*Maintenance{}
	for _, r := range routes {
		if r.Maintenance != nil {
			m[r.ID] = r.Maintenance
		}
	}
	liveMaintenance.Store(&m)
}
