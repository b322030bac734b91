package notify

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPrivateRanges: every range that is not the public internet is
// private for notifications, carrier-grade NAT and IPv6 unique-local
// included.
func TestPrivateRanges(t *testing.T) {
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "100.127.255.254": true, "0.0.0.0": true, "0.1.2.3": true, "198.18.0.1": true,
		"::1": true, "fd00::1": true, "fe80::1": true, "::ffff:127.0.0.1": true, "64:ff9b::7f00:1": true,
		"8.8.8.8": false, "100.128.0.1": false, "2606:4700:4700::1111": false,
	} {
		assert.Equal(t, want, private(net.ParseIP(ip)), ip)
	}
}

// TestGenericServiceMustResolve: a generic:// URL posts to whatever its
// host resolves to when shoutrrr dials it; a host that does not resolve
// at check time is refused (DNS rebinding), and a loopback one always.
func TestGenericServiceMustResolve(t *testing.T) {
	s := NewSender(false)
	s.lookup = func(_ context.Context, host string) ([]net.IPAddr, error) { // no DNS server in a test
		if host == "localhost" {
			return []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}}, nil
		}
		return nil, errors.New("no such host")
	}
	ctx := context.Background()
	for _, raw := range []string{"generic://does-not-resolve.invalid/hook", "generic+https://127.0.0.1/hook", "GENERIC://localhost/hook"} {
		err := s.Send(ctx, raw, Message{Agent: "a", Message: "m"})
		assert.True(t, errors.Is(err, ErrPrivate), "%s: %v", raw, err)
	}
	open := NewSender(true)
	open.lookup = s.lookup
	err := open.checkHost(ctx, "does-not-resolve.invalid", true)
	assert.NoError(t, err, "--allow private-notify lets the operator decide")
}
