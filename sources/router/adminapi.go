package router

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// adminAPI speaks Caddy's admin API: JSON in, JSON out, every call with a
// deadline.
type adminAPI struct {
	base   string // http://127.0.0.1:2019
	client *http.Client
}

// newAdminAPI returns a client that opens a connection per call: Caddy
// may replace its admin server on a config change, and a kept-alive
// connection to the old one fails the next change with a reset that is
// not safe to retry.
func newAdminAPI(base string) *adminAPI {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	return &adminAPI{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 10 * time.Second, Transport: tr}}
}

// config reads the running config (nil when Caddy runs none).
func (a *adminAPI) config(ctx context.Context) (any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/config/", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("caddy admin API %s: %w", a.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("caddy admin API %s: reading the config: %w", a.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("caddy admin API %s: %s: %s", a.base, resp.Status, strings.TrimSpace(string(body)))
	}
	var cfg any
	if err := json.Unmarshal(body, &cfg); err != nil {
		return nil, fmt.Errorf("caddy admin API %s: the config is not JSON: %w", a.base, err)
	}
	return cfg, nil
}

// do sends one change. Caddy applies each change atomically: the new
// config is started before the old one stops, or refused as a whole.
func (a *adminAPI) do(ctx context.Context, method, path string, body any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("caddy admin API %s: %w", a.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("caddy admin API %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

func roundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}
