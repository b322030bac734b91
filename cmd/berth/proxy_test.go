package main_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io/fs"
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

	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/loopback"
)

func routedYAML(img, host, msg string) string {
	return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: %q\nport: 8080\nroute:\n  hosts: [%s]\nhealthcheck:\n  path: /healthz\n  timeout: 10s\n", img, msg, host)
}

// adminCall sends one request to the proxy's admin API and returns the
// status.
func adminCall(t *testing.T, p *proxyProcess, method, path, host, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.admin+path, strings.NewReader(body))
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func listeners(t *testing.T, p *proxyProcess) []string {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/config/apps/http/servers/berth/listen")
	require.NoError(t, err)
	defer resp.Body.Close()
	var out []string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// servedWithin polls the proxy for host until it answers with want.
func servedWithin(t *testing.T, proxy, host, want string, limit time.Duration) time.Duration {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	start := time.Now()
	for time.Since(start) < limit {
		if body, err := loopback.Get(c, proxy, host); err == nil && strings.Contains(body, want) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not serve %q within %s", host, want, limit)
	return 0
}

// TestProxyOutlivesItsRestarts: agents change only routes, never the
// proxy's listeners; a proxy killed with SIGKILL serves its routes again
// as soon as it is back, with no agent running; and a proxy that lost its
// state gets every route back from the agent's next (idle) tick.
func TestProxyOutlivesItsRestarts(t *testing.T) {
	w := newCLIWorld(t)
	p := newProxy(t, "")
	p.start(t)
	host := w.app + ".test"
	w.src.Write("apps/"+w.app+"/web.yaml", routedYAML(w.img, host, "v0")).Push("v0")
	state := t.TempDir()
	common := []string{"--repo", w.src.URL, "--state-dir", state, "--agent-name", w.name, "--status-branch", "", "--router", "caddy", "--caddy-admin", "http://" + p.admin}

	r := run(t, nil, append([]string{"sync"}, common...)...) // default --http and --https
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"berth/" + p.http}, listeners(t, p), "a sync with default flags leaves the proxy on its own listeners")
	servedWithin(t, p.http, host, "v0", 5*time.Second)

	// The admin API takes route changes only, from a loopback Host.
	assert.Equal(t, 403, adminCall(t, p, http.MethodPost, "/load", "", `{}`))
	assert.Equal(t, 403, adminCall(t, p, http.MethodPatch, "/config/apps/http/servers/berth/listen", "", `[":80"]`))
	assert.Equal(t, 403, adminCall(t, p, http.MethodPost, "/stop", "", ``))
	assert.Equal(t, 403, adminCall(t, p, http.MethodGet, "/config/", "evil.example", ""))
	// A route to the Docker socket is refused, and Caddy's own admin API
	// is a unix socket in a folder only this user enters: no TCP port on
	// loopback to reach it around the guard.
	assert.Equal(t, 403, adminCall(t, p, http.MethodPost, "/config/apps/http/servers/berth/routes", "",
		`{"@id":"berth_x_a_b","match":[{"host":["d.test"]}],"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"unix//var/run/docker.sock"}]}]}`))
	resp, err := http.Get("http://" + p.admin + "/config/admin/listen")
	require.NoError(t, err)
	var inner string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&inner))
	_ = resp.Body.Close()
	require.True(t, strings.HasPrefix(inner, "unix/"), "the inner admin listens on %q", inner)
	st, err := os.Stat(filepath.Dir(strings.TrimPrefix(inner, "unix/")))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	assert.Equal(t, []string{"berth/" + p.http}, listeners(t, p))

	l := agenttest.StartLoad(p.http, host)
	time.Sleep(300 * time.Millisecond)
	p.kill(t)
	p.start(t)
	took := servedWithin(t, p.http, host, "v0", 2*time.Second)
	_, err = os.Stat(filepath.Dir(strings.TrimPrefix(inner, "unix/")))
	assert.ErrorIs(t, err, fs.ErrNotExist, "the killed proxy's admin-socket folder was swept")
	time.Sleep(300 * time.Millisecond)
	l.Finish()
	failed, gap, _ := l.Stats()
	t.Logf("proxy SIGKILLed and started again: served %s after its admin API answered; %d requests failed, longest gap %s", took, failed, gap)

	ag := startAgent(t, append(common, "--schedule", "@every 1s")...)
	p.kill(t)
	require.NoError(t, os.Remove(filepath.Join(p.state, "proxy-routes.json")))
	p.start(t)
	servedWithin(t, p.http, host, "v0", 5*time.Second)
	assert.Eventually(t, func() bool { return strings.Contains(ag.stderr.String(), "the proxy had lost routes") },
		5*time.Second, 100*time.Millisecond, "the agent says it put the route back")

	// Shell completion asks the running agent for workload ids.
	r = run(t, nil, "__complete", "rollback", "--agent", "http://"+ag.addr, "")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, strings.Split(r.stdout, "\n"), w.app+"/web")
}

// trustStore lists the host's trust store files with their sizes and
// modification times.
func trustStore(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{"/usr/local/share/ca-certificates", "/etc/ssl/certs", "/usr/share/ca-certificates"} {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if info, err := os.Lstat(path); err == nil {
				out[path] = fmt.Sprintf("%d %s", info.Size(), info.ModTime())
			}
			return nil
		})
	}
	return out
}

// TestProxyNeverTouchesTheTrustStore: with HTTPS on, a route for a local
// name (no public CA certifies it) is served on HTTP without a redirect
// and without a certificate from Caddy's own CA, and what the host trusts
// stays exactly as it was.
func TestProxyNeverTouchesTheTrustStore(t *testing.T) {
	before := trustStore(t)
	w := newCLIWorld(t)
	p := newProxy(t, "")
	p.https = loopback.FreeAddr(t)
	p.start(t)
	host := w.app + ".localhost"
	w.src.Write("apps/"+w.app+"/web.yaml", routedYAML(w.img, host, "plain")).Push("plain")
	r := run(t, nil, "sync", "--repo", w.src.URL, "--state-dir", t.TempDir(), "--agent-name", w.name, "--status-branch", "",
		"--router", "caddy", "--caddy-admin", "http://"+p.admin)
	require.Equal(t, 0, r.code, r.stderr)

	noRedirect := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	servedWithin(t, p.http, host, "plain", 5*time.Second)
	body, err := loopback.Get(noRedirect, p.http, host)
	require.NoError(t, err, "HTTP answers, no redirect to HTTPS")
	assert.Contains(t, body, "plain")
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", p.https, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // any certificate at all would be wrong
	if err == nil {
		issuer := conn.ConnectionState().PeerCertificates[0].Issuer.CommonName
		_ = conn.Close()
		t.Fatalf("the proxy served a certificate for local name %s (issuer %q)", host, issuer)
	}
	assert.Equal(t, before, trustStore(t), "the host's trust store is unchanged")
}

// Two agents share one `berth proxy` (a host belongs to the agent that
// routed it first) and a status branch. A placement change moves a routed
// workload from a to b: a releases its route while it moves, so b's route
// for the same host is accepted; a prunes its copy once b reports it
// running; the host answers all along.
func TestMoveBetweenAgentsSharingAProxy(t *testing.T) {
	w := newCLIWorld(t)
	nameB := dockertest.AgentName(t)
	p := newProxy(t, "")
	p.start(t)
	host := w.app + ".test"
	placed := func(agent string) string {
		return routedYAML(w.img, host, "moving") + "placement:\n  agents: [" + agent + "]\n"
	}
	w.src.Write("apps/"+w.app+"/web.yaml", placed(w.name)).Push("on a")
	common := []string{"--repo", w.src.URL, "--router", "caddy", "--caddy-admin", "http://" + p.admin, "--status-branch", "berth/status",
		"--schedule", "@every 1s", "--heartbeat", "0"}
	startAgent(t, append([]string{"--state-dir", t.TempDir(), "--agent-name", w.name}, common...)...)
	agB := startAgent(t, append([]string{"--state-dir", t.TempDir(), "--agent-name", nameB}, common...)...)
	servedWithin(t, p.http, host, "moving", time.Minute)
	containersOf := func(agent string) int {
		out, err := exec.Command("docker", "ps", "-q", "--filter", "label=berth.agent="+agent, "--filter", "label=berth.workload="+w.app+"/web").Output()
		require.NoError(t, err)
		return len(strings.Fields(string(out)))
	}
	require.Equal(t, 1, containersOf(w.name))

	l := agenttest.StartLoad(p.http, host)
	w.src.Write("apps/"+w.app+"/web.yaml", placed(nameB)).Push("to b")
	require.Eventually(t, func() bool { return containersOf(nameB) == 1 && containersOf(w.name) == 0 }, 2*time.Minute, 500*time.Millisecond,
		"b serves and a pruned its copy:\n%s", agB.stderr.String())
	time.Sleep(500 * time.Millisecond)
	l.Finish()
	failed, gap, _ := l.Stats()
	t.Logf("moved between agents on one proxy: %d requests failed (first: %v), longest gap %s", failed, l.FirstError(), gap)
	assert.Zero(t, failed)
	servedWithin(t, p.http, host, "moving", 5*time.Second)
}
