package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Admin drives an external Caddy through its admin API: every change is a
// POST /load of the whole config, which Caddy applies atomically.
type Admin struct {
	base   string // http://127.0.0.1:2019
	opts   ConfigOptions
	client *http.Client

	mu      sync.Mutex
	noDelay bool // the Caddy is too old for stream_close_delay
}

var _ Driver = (*Admin)(nil)

// NewAdmin returns a driver for the Caddy whose admin API is at base.
func NewAdmin(base string, opts ConfigOptions) (*Admin, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--caddy-admin %q is not a URL such as http://127.0.0.1:2019", base)
	}
	opts.Admin = u.Host // loading a config must keep the admin API up
	opts.StreamCloseDelay = true
	return &Admin{base: strings.TrimRight(base, "/"), opts: opts, client: &http.Client{Timeout: 10 * time.Second}}, nil
}

// Ping reports whether the admin API answers.
func (a *Admin) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/config/", nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("caddy admin API %s: %w", a.base, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("caddy admin API %s: %s", a.base, resp.Status)
	}
	return nil
}

// Load posts the whole config.
func (a *Admin) Load(ctx context.Context, routes []Route) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	opts := a.opts
	opts.StreamCloseDelay = !a.noDelay
	err := a.post(ctx, routes, opts)
	if err != nil && opts.StreamCloseDelay && strings.Contains(err.Error(), "stream_close_delay") {
		// An older Caddy (Debian's 2.6) does not know the field: streams
		// then close on reload, which is what that Caddy can do.
		a.noDelay = true
		opts.StreamCloseDelay = false
		err = a.post(ctx, routes, opts)
	}
	return err
}

// post loads the config. Caddy may reset the connection of a /load that
// restarts its admin endpoint even though the load took; loading the same
// config again is harmless, so a transport error is retried (bounded).
func (a *Admin) post(ctx context.Context, routes []Route, opts ConfigOptions) error {
	cfg, err := BuildConfig(routes, opts)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := a.postOnce(ctx, cfg)
		var te *transportError
		if err == nil || !errors.As(err, &te) || attempt == 3 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func (a *Admin) postOnce(ctx context.Context, cfg []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/load", bytes.NewReader(cfg))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return &transportError{fmt.Errorf("loading the proxy config through %s: %w", a.base, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("loading the proxy config through %s: %s: %s", a.base, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
