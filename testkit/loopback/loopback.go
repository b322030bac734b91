// Package loopback has the small network helpers tests share: a free
// 127.0.0.1 address and a GET through a proxy by Host header.
package loopback

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// Get fetches / from the proxy at addr for host and returns the body; a
// status other than 200 is an error.
func Get(c *http.Client, addr, host string) (string, error) { return GetPath(c, addr, host, "/") }

// GetPath is Get for another path.
func GetPath(c *http.Client, addr, host, path string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), err
}
