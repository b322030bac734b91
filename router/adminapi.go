package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// errNoAnswer is a request that got no HTTP answer at all (refused, or
// reset: Caddy restarts its admin server right after a change).
var errNoAnswer = errors.New("no answer")

// config reads the running config (nil when Caddy runs none), asking
// again (it is a read) when the admin server was restarting.
func (a *adminAPI) config(ctx context.Context) (cfg any, err error) {
	for attempt := range 3 {
		if attempt > 0 && !pause(ctx, time.Duration(attempt)*100*time.Millisecond) {
			break
		}
		if cfg, err = a.read(ctx); !errors.Is(err, errNoAnswer) {
			return cfg, err
		}
	}
	return nil, err
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (a *adminAPI) read(ctx context.Context) (any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/config/", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("caddy admin API %s: %w: %w", a.base, errNoAnswer, err)
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
		return fmt.Errorf("caddy admin API %s: %w: %w", a.base, errNoAnswer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("caddy admin API %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// change sends one change. Caddy restarts its admin server right after a
// change, so the next request may meet the old one closing and get no
// answer: then the running config says whether the change landed, and it
// is sent again only when it did not (at most 3 tries).
func (a *adminAPI) change(ctx context.Context, method, path string, body any, landed func(cfg any) bool) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if !pause(ctx, time.Duration(attempt)*100*time.Millisecond) {
				return err
			}
			if cfg, cerr := a.config(ctx); cerr == nil && landed(cfg) {
				return nil
			}
		}
		if err = a.do(ctx, method, path, body); !errors.Is(err, errNoAnswer) {
			return err
		}
	}
	return err
}

func roundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}
