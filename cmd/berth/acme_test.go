package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/loopback"
)

// pebble is Let's Encrypt's ACME test server on 127.0.0.1, with every
// challenge taken as valid (no DNS needed), so a proxy gets real
// certificates offline.
type pebble struct {
	dir    string // the ACME directory URL
	tlsPEM string // the root of pebble's own HTTPS certificate
	mgmt   string
}

func startPebble(t *testing.T) *pebble {
	t.Helper()
	bin := os.Getenv("PEBBLE_BIN")
	if bin == "" {
		bin = "/usr/local/bin/pebble-2.10.3"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pebble is required in CI (scripts/pebble builds it): %v", err)
		}
		t.Skipf("no pebble at %s (run scripts/pebble)", bin)
	}
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	p := &pebble{tlsPEM: certFile}
	listen, mgmt := loopback.FreeAddr(t), loopback.FreeAddr(t)
	p.dir, p.mgmt = "https://"+listen+"/dir", "https://"+mgmt
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt, "certificate": certFile, "privateKey": keyFile,
		"httpPort": 5002, "tlsPort": 5001, "externalAccountBindingRequired": false,
		// Short-lived certificates, so a test sees a renewal.
		"profiles": map[string]any{"default": map[string]any{"description": "short-lived", "validityPeriod": 30}},
	}}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	cfgFile := filepath.Join(dir, "pebble.json")
	require.NoError(t, os.WriteFile(cfgFile, b, 0o600))
	cmd := exec.Command(bin, "-config", cfgFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=100")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 { // bounded: 10 s
		if _, err := p.get(t, p.dir); err == nil {
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pebble did not start:\n%s", out.String())
	return nil
}

// get fetches url over pebble's own HTTPS.
func (p *pebble) get(t *testing.T, url string) ([]byte, error) {
	pool := x509.NewCertPool()
	b, err := os.ReadFile(p.tlsPEM)
	require.NoError(t, err)
	pool.AppendCertsFromPEM(b)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// roots is the pool of the CA that issues pebble's certificates (made
// fresh at every start).
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	b, err := p.get(t, p.mgmt+"/roots/0")
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(b), "pebble's root:\n%s", b)
	return pool
}

// selfSigned writes a certificate for 127.0.0.1 that is its own root.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

// requireHTTPS waits until the proxy at httpsAddr serves host with a
// certificate that chains to pebble's root, and returns the body.
func requireHTTPS(t *testing.T, pb *pebble, httpsAddr, host string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pb.roots(t), ServerName: host},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		},
	}}
	var last error
	for range 60 { // bounded: about 30 s
		resp, err := c.Get("https://" + host + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			last = fmt.Errorf("status %s", resp.Status)
		} else {
			last = err
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no verified HTTPS answer for %s: %v", host, last)
	return ""
}

// requireRedirect checks that plain HTTP for host redirects to HTTPS.
func requireRedirect(t *testing.T, httpAddr, host string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/path", nil)
	require.NoError(t, err)
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusPermanentRedirect, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "https://"+host), resp.Header.Get("Location"))
}

// TestHTTPSFromAPrivateACMECA: `berth proxy` and the embedded proxy, told
// --acme-ca and --acme-ca-root, obtain a real certificate for a route's
// host from an ACME server on 127.0.0.1, serve it (the chain verifies
// against that CA), and redirect HTTP to HTTPS. Offline.
func TestHTTPSFromAPrivateACMECA(t *testing.T) {
	pb := startPebble(t)
	acme := []string{"--acme-ca", pb.dir, "--acme-ca-root", pb.tlsPEM, "--acme-email", "ops@example.com", "--acme-renew-interval", "2s"}

	t.Run("berth proxy", func(t *testing.T) {
		w := newCLIWorld(t)
		p := newProxy(t, "")
		p.https = loopback.FreeAddr(t)
		p.extra = acme
		p.start(t)
		host := w.app + ".example.com"
		w.src.Write("apps/"+w.app+"/web.yaml", routedYAML(w.img, host, "over tls")).Push("tls")
		r := run(t, nil, "sync", "--repo", w.src.URL, "--state-dir", t.TempDir(), "--agent-name", w.name, "--status-branch", "",
			"--router", "caddy", "--caddy-admin", "http://"+p.admin)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, requireHTTPS(t, pb, p.https, host), "over tls")
		requireRedirect(t, p.http, host)

		// Renewal: the 30 s certificate is replaced before it expires.
		first, since := servedCert(t, p.https, host), time.Now()
		require.NotNil(t, first)
		require.Eventually(t, func() bool {
			c := servedCert(t, p.https, host)
			return c != nil && c.SerialNumber.Cmp(first.SerialNumber) != 0 && c.NotBefore.After(first.NotBefore.Add(-time.Second))
		}, 40*time.Second, time.Second, "the certificate was renewed:\n%s", p.stderr.String())
		t.Logf("a %s certificate was renewed %s after it was first served", first.NotAfter.Sub(first.NotBefore), time.Since(since).Round(time.Second))
		assert.Contains(t, requireHTTPS(t, pb, p.https, host), "over tls", "the renewed certificate verifies")
	})

	t.Run("embedded", func(t *testing.T) {
		w := newCLIWorld(t)
		host := w.app + ".example.com"
		w.src.Write("apps/"+w.app+"/web.yaml", routedYAML(w.img, host, "embedded tls")).Push("tls")
		httpAddr, httpsAddr := loopback.FreeAddr(t), loopback.FreeAddr(t)
		startAgent(t, append([]string{"--repo", w.src.URL, "--state-dir", t.TempDir(), "--agent-name", w.name, "--status-branch", "",
			"--schedule", "@every 1h", "--router", "embedded", "--http", httpAddr, "--https", httpsAddr}, acme...)...)
		assert.Contains(t, requireHTTPS(t, pb, httpsAddr, host), "embedded tls")
		requireRedirect(t, httpAddr, host)
	})
}

// servedCert is the certificate served for host, nil when none.
func servedCert(t *testing.T, httpsAddr, host string) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", httpsAddr, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // only the certificate is read
	if err != nil {
		return nil
	}
	defer func() { _ = conn.Close() }()
	return conn.ConnectionState().PeerCertificates[0]
}
