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
	"strings"
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
	lookup       func(ctx context.Context, host string) ([]net.IPAddr, error)
}

// NewSender returns a sender; allowPrivate lets it reach loopback,
// private and link-local addresses.
func NewSender(allowPrivate bool) *Sender {
	s := &Sender{allowPrivate: allowPrivate, lookup: net.DefaultResolver.LookupIPAddr}
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
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
		return true
	}
	for _, n := range reserved {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// reserved are ranges that are not the public internet besides those
// net.IP names: "this network", carrier-grade NAT (100.64.0.0/10, which
// cloud providers use for internal services), IETF protocol assignments
// and benchmarking, NAT64, and IPv6 discard and documentation.
var reserved = func() []*net.IPNet {
	var out []*net.IPNet
	for _, c := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32"} {
		_, n, _ := net.ParseCIDR(c)
		out = append(out, n)
	}
	return out
}()

// Send delivers m to the destination raw. Errors name the destination by
// its Label, never by its URL.
func (s *Sender) Send(ctx context.Context, raw string, m Message) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("an invalid URL")
	}
	label := Label(raw)
	if scheme := strings.ToLower(u.Scheme); scheme == "http" || scheme == "https" {
		return s.post(ctx, raw, label, m)
	}
	if err := s.checkHost(ctx, u.Hostname(), strings.HasPrefix(strings.ToLower(u.Scheme), "generic")); err != nil {
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
//
// strict services (generic: a POST to any host the URL names) must resolve
// now; for the others the host part often names the service, not a host.
func (s *Sender) checkHost(ctx context.Context, host string, strict bool) error {
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
	addrs, err := s.lookup(rctx, host)
	if err != nil {
		if strict {
			// A host that does not resolve now may resolve to loopback
			// when the service dials it (DNS rebinding): refused.
			return fmt.Errorf("%w: %s does not resolve", ErrPrivate, host)
		}
		return nil // a name of the service's own (a channel, a token) is not a host
	}
	for _, a := range addrs {
		if private(a.IP) {
			return ErrPrivate
		}
	}
	return nil
}
