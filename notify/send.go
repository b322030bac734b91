package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/nicholas-fedor/shoutrrr"
)

// ErrPrivate means a destination is on a loopback, private or link-local
// address and the operator did not allow that (--allow private-notify): a
// config-repo commit must not make the agent POST to services only the
// host can reach (a proxy's admin API, a cloud metadata endpoint).
var ErrPrivate = errors.New("a private address needs --allow private-notify")

// Sender sends messages; each Send is bounded by its ctx.
type Sender struct {
	allowPrivate bool
	client       *http.Client
}

// NewSender returns a sender; allowPrivate lets it reach loopback,
// private and link-local addresses.
func NewSender(allowPrivate bool) *Sender {
	s := &Sender{allowPrivate: allowPrivate}
	d := &net.Dialer{Timeout: 10 * time.Second, Control: s.control}
	tr := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 10 * time.Second, Proxy: http.ProxyFromEnvironment}
	s.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s
}

// control refuses private addresses at connect time, after DNS: a name
// that resolves to 127.0.0.1 is refused as 127.0.0.1 is.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil && private(ip) && !s.allowPrivate {
		return ErrPrivate
	}
	return nil
}

func private(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified()
}

// Send delivers m to the destination raw. Errors name the destination by
// its Label, never by its URL.
func (s *Sender) Send(ctx context.Context, raw string, m Message) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("an invalid URL")
	}
	label := Label(raw)
	if u.Scheme == "http" || u.Scheme == "https" {
		return s.post(ctx, raw, label, m)
	}
	if err := s.checkHost(ctx, u.Hostname()); err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	done := make(chan error, 1)
	go func() { done <- shoutrrr.Send(raw, m.Text()) }() // shoutrrr takes no context: the send is abandoned at the deadline
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: the service refused or did not answer", label)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer in time", label)
	}
}

func (s *Sender) post(ctx context.Context, raw, label string, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: an invalid URL", label)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth")
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrPrivate) {
			return fmt.Errorf("%s: %w", label, ErrPrivate)
		}
		return fmt.Errorf("%s: no answer", label) // the error text would repeat the URL
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s: answered %s", label, resp.Status)
	}
	return nil
}

// checkHost refuses a service URL whose host is, or resolves to, a
// private address (shoutrrr dials on its own).
func (s *Sender) checkHost(ctx context.Context, host string) error {
	if s.allowPrivate || host == "" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if private(ip) {
			return ErrPrivate
		}
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(rctx, host)
	if err != nil {
		return nil // a name of the service's own (a channel, a token) is not a host
	}
	for _, a := range addrs {
		if private(a.IP) {
			return ErrPrivate
		}
	}
	return nil
}
