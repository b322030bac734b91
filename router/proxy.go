package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/berthops/berth/internal/atomicfile"
)

// ProxyOptions configure `berth proxy`.
type ProxyOptions struct {
	HTTP, HTTPS string // the listeners: the proxy's flags, never an agent's
	Admin       string // the admin API agents use
	StateDir    string // the route table and certificates
	ACME        ACMEOptions
	Log         *slog.Logger
}

// Proxy is `berth proxy`: Caddy in this process, serving the routes agents
// put through its admin API. The admin API agents reach is a guard in
// front of Caddy's own (on a private loopback port): it lets through reads
// and changes to routes only, and saves the routes (atomically, in the
// state dir) before it answers a change. A restarted proxy serves the
// saved routes on its own listeners before its admin API opens.
type Proxy struct {
	opts  ProxyOptions
	table string   // proxy-routes.json
	inner *url.URL // Caddy's admin API, on a unix socket in socketDir
	fwd   *httputil.ReverseProxy
	// socketDir is a 0700 folder holding Caddy's admin socket.
	socketDir string
	api       *adminAPI
	srv       *http.Server

	mu     sync.Mutex // one change at a time: the saved table follows Caddy
	routes int
	// released are the routes whose agents let another agent take their
	// hosts (their workload moved); an agent says so every tick while it
	// still serves, so a restarted proxy learns it again.
	released map[string]bool
}

// StartProxy loads the saved routes into Caddy and opens the admin API.
func StartProxy(opts ProxyOptions) (*Proxy, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{opts: opts, table: proxyTablePath(opts.StateDir)}
	routes, err := p.saved()
	if err != nil {
		return nil, err
	}
	// Caddy's own admin API listens on a unix socket in a folder only this
	// user can enter: nobody else on the host reaches it, whatever an
	// answer of the guarded API says about it.
	sweepAdminDirs()
	dir, err := os.MkdirTemp("", adminDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("making the admin socket's folder: %w", err)
	}
	p.socketDir = dir
	started := false
	defer func() {
		if !started {
			_ = os.RemoveAll(dir)
		}
	}()
	sock := filepath.Join(dir, "caddy.sock")
	inner := "unix/" + sock
	p.inner = &url.URL{Scheme: "http", Host: "caddy-admin"}
	tr := unixTransport(sock)
	p.api = &adminAPI{base: p.inner.String(), client: &http.Client{Timeout: 10 * time.Second, Transport: tr}}
	p.fwd = &httputil.ReverseProxy{Transport: tr, Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(p.inner)
		r.Out.Header.Del("Origin")
	}, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
		if b, ok := w.(*buffered); ok {
			b.noAnswer = true
		}
		http.Error(w, "berth proxy: the admin API did not answer: "+err.Error(), http.StatusBadGateway)
	}}
	if err := probePorts(opts.HTTP, opts.HTTPS); err != nil {
		return nil, err
	}
	registerUpstreamSource() // a table saved by an embedded router names this source
	registerHeldNetwork()
	cfg, err := buildConfig(routes, ConfigOptions{HTTP: opts.HTTP, HTTPS: opts.HTTPS, Admin: inner, StorageDir: storageDir(opts.StateDir), ACME: opts.ACME})
	if err != nil {
		return nil, err
	}
	if err := caddy.Load(cfg, true); err != nil {
		return nil, fmt.Errorf("starting the proxy: %w", err)
	}
	p.routes = len(routes)
	ln, err := listenAdmin(opts.Admin)
	if err != nil {
		_ = caddy.Stop()
		return nil, fmt.Errorf("admin API: %w", err)
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	started = true
	return p, nil
}

// Routes is how many routes the proxy serves as of its last change.
func (p *Proxy) Routes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.routes
}

// Stop closes the admin API and stops Caddy.
func (p *Proxy) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(p.srv.Shutdown(ctx), caddy.Stop(), os.RemoveAll(p.socketDir))
}

// ServeHTTP is the guarded admin API.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if adminSocket(p.opts.Admin) == "" && !loopbackHost(r.Host, p.opts.Admin) {
		http.Error(w, "berth proxy: host not allowed", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		p.fwd.ServeHTTP(w, r)
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, releasePath); ok && r.Method == http.MethodPost {
		p.mu.Lock()
		if p.released == nil {
			p.released = map[string]bool{}
		}
		p.released[id] = true
		p.mu.Unlock()
		p.opts.Log.Info("route released: another agent may take its hosts", "route", id)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !routeChange(r.URL.Path) {
		http.Error(w, "berth proxy: only routes change through this API; the listeners and the rest of the config are its flags", http.StatusForbidden)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "berth proxy: reading the request failed", http.StatusBadRequest)
		return
	}
	if err := checkRoute(body); err != nil {
		http.Error(w, "berth proxy: "+err.Error(), http.StatusForbidden)
		return
	}
	if cfg, err := p.api.config(r.Context()); err == nil {
		if err := checkOwners(body, hostOwners(cfg), p.released); err != nil {
			http.Error(w, "berth proxy: "+err.Error(), http.StatusConflict)
			return
		}
	}
	var rec *buffered
	for attempt := range 3 {
		// Caddy restarts its admin server right after a change: a request
		// that meets the old one closing got no answer and is sent again.
		if attempt > 0 && !pause(r.Context(), time.Duration(attempt)*100*time.Millisecond) {
			break
		}
		rec = &buffered{header: http.Header{}, code: http.StatusOK}
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.fwd.ServeHTTP(rec, r)
		if !rec.noAnswer {
			break
		}
	}
	if rec.code < 300 {
		if err := p.save(r.Context()); err != nil {
			// Caddy serves the change; a restart would not. Say so: the
			// agent keeps its route and puts it back after a restart.
			p.opts.Log.Error("saving the route table failed", "error", err)
			rec.code = http.StatusInternalServerError
			rec.body.Reset()
			fmt.Fprintf(&rec.body, "berth proxy: the change is live but saving the route table failed: %v\n", err)
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	_, _ = w.Write(rec.body.Bytes())
}

// save writes the routes Caddy serves (those with an @id: agents' routes,
// not the 404 for unknown hosts or the HTTPS redirect) to the table, then
// keeps the HTTPS settings in step with the hosts.
func (p *Proxy) save(ctx context.Context) error {
	cfg, err := p.api.config(ctx)
	if err != nil {
		return err
	}
	var routes []any
	var server map[string]any
	for _, s := range dig(cfg, "apps", "http", "servers") {
		if id, _ := dig(s)["@id"].(string); id == ProxyID {
			server = dig(s)
		}
	}
	list, _ := server["routes"].([]any)
	for _, rt := range list {
		if id, ok := dig(rt)["@id"].(string); ok && id != redirectID {
			routes = append(routes, rt)
		}
	}
	b, err := json.MarshalIndent(map[string]any{"routes": routes}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(p.table, b, 0o600); err != nil {
		return fmt.Errorf("saving %s: %w", p.table, err)
	}
	p.routes = len(routes)
	if p.opts.HTTPS == "" {
		return nil
	}
	return p.https(ctx, server, routes)
}

// https keeps local names on HTTP (the skip list) and public ones
// redirected to HTTPS, as a proxy started with these routes would have.
func (p *Proxy) https(ctx context.Context, server map[string]any, routes []any) error {
	var skip []string
	had, _ := dig(server, "automatic_https")["skip"].([]any)
	for _, h := range had {
		skip = append(skip, fmt.Sprint(h))
	}
	if local := localHosts(routes); !slices.Equal(local, skip) {
		skipped := func(cfg any) bool {
			had, _ := dig(cfg, "apps", "http", "servers", "berth", "automatic_https")["skip"].([]any)
			return len(had) == len(local)
		}
		if err := p.api.change(ctx, http.MethodPost, "/config/apps/http/servers/berth/automatic_https", map[string]any{"skip": local}, skipped); err != nil {
			return fmt.Errorf("keeping local names on HTTP: %w", err)
		}
	}
	want := redirectRoute(routes, p.opts.HTTPS)
	have, ok := findIDs(server)[redirectID]
	switch {
	case want == nil && ok:
		return p.api.change(ctx, http.MethodDelete, "/id/"+redirectID, nil, func(cfg any) bool { _, ok := findIDs(cfg)[redirectID]; return !ok })
	case want == nil, ok && sameJSON(have, want):
		return nil
	case ok:
		return p.api.change(ctx, http.MethodPatch, "/id/"+redirectID, want, hasRoute(redirectID, want))
	}
	return p.api.change(ctx, http.MethodPut, "/config/apps/http/servers/berth/routes/0", want, hasRoute(redirectID, want))
}

// saved reads the route table; without one, the table an embedded router
// saved in the same state dir (what `berth proxy` restored before).
func (p *Proxy) saved() ([]any, error) {
	b, err := os.ReadFile(p.table)
	if errors.Is(err, fs.ErrNotExist) {
		legacy, lerr := New(nil, legacyTablePath(p.opts.StateDir))
		if lerr != nil {
			return nil, lerr
		}
		var out []any
		for _, r := range legacy.Routes() {
			if rc := routeConfig(r, ConfigOptions{}); rc != nil {
				out = append(out, rc)
			}
		}
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the route table: %w", err)
	}
	var t struct {
		Routes []any `json:"routes"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("reading the route table %s: %w", p.table, err)
	}
	return t.Routes, nil
}

// routeChange reports whether an admin path changes routes only: a
// server's route list, or an object by @id other than the server itself.
func routeChange(path string) bool {
	if rest, ok := strings.CutPrefix(path, "/id/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		return id != "" && id != ProxyID
	}
	rest, ok := strings.CutPrefix(path, "/config/apps/http/servers/")
	if !ok {
		return false
	}
	_, sub, _ := strings.Cut(rest, "/")
	return sub == "routes" || strings.HasPrefix(sub, "routes/")
}

// loopbackHost reports whether a request's Host names the admin address
// (or its port on a loopback name): a page on another site that makes a
// browser call this API (DNS rebinding) is refused.
func loopbackHost(host, admin string) bool {
	_, port, err := net.SplitHostPort(admin)
	if err != nil {
		return false
	}
	for _, h := range []string{admin, "localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		if host == h {
			return true
		}
	}
	return false
}

// unixTransport talks HTTP over the unix socket sock, a connection per
// request (Caddy replaces its admin server on a config change).
func unixTransport(sock string) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}
	return tr
}

// buffered holds an admin answer until the change is saved.
type buffered struct {
	header   http.Header
	code     int
	body     bytes.Buffer
	noAnswer bool // the admin API gave no HTTP answer
}

func (b *buffered) Header() http.Header         { return b.header }
func (b *buffered) WriteHeader(code int)        { b.code = code }
func (b *buffered) Write(p []byte) (int, error) { return b.body.Write(p) }

func proxyTablePath(stateDir string) string  { return filepath.Join(stateDir, "proxy-routes.json") }
func legacyTablePath(stateDir string) string { return filepath.Join(stateDir, "routes.json") }
func storageDir(stateDir string) string      { return filepath.Join(stateDir, "caddy") }
