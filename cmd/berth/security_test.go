package main_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/caddytest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
	"github.com/berthops/berth/testkit/loopback"
)

// TestConfigRepoCredentialsStayHome: the config repo needs a password; a
// dockerfile workload names an app repo on another server. The other
// server never sees the config repo's credentials.
func TestConfigRepoCredentialsStayHome(t *testing.T) {
	const password = "config-repo-password"
	w := newCLIWorld(t, gitserver.WithPassword(password))
	img, name, app, src := w.img, w.name, w.app, w.src
	appSrv := gitserver.Start(t)
	appRepo := appSrv.NewRepo(t, "app")
	appRepo.Write("Dockerfile", "FROM "+img+"\n").Push("app")
	var leaked atomic.Int32
	target, err := url.Parse(appSrv.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(recorder.Close)
	src.Write("apps/"+app+"/svc.yaml", "source:\n  type: dockerfile\n  git:\n    url: "+recorder.URL+"/app.git\nport: 8080\n").Push("an app repo elsewhere")
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(password), 0o600))
	t.Cleanup(func() { removeBuiltImages(t, name, app) })
	r := run(t, nil, "sync", "--repo", src.URL, "--git-password-file", pwFile, "--state-dir", t.TempDir(), "--agent-name", name,
		"--router", "none", "--status-branch", "")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Zero(t, leaked.Load(), "the app repo's server received the config repo's credentials")
}

// removeBuiltImages deletes the agent's containers, then the images Berth
// built for app's workloads.
func removeBuiltImages(t *testing.T, agentName, app string) {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Error(err)
		return
	}
	defer cli.Close()
	dockertest.RemoveContainers(t, cli, agentName)
	ctx := context.Background()
	imgs, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", "berth/"+app+"_*"))})
	if err != nil {
		t.Error(err)
		return
	}
	for _, img := range imgs {
		for _, tag := range img.RepoTags { // by tag: a FROM-only build shares the base image's ID
			if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{}); err != nil {
				t.Errorf("removing %s: %v", tag, err)
			}
		}
	}
}

// TestValidateNamesTheAllowWord: under the default policy each host
// permission a commit asks for is an error naming the file, the line and
// the --allow word; with the word it validates.
func TestValidateNamesTheAllowWord(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"apps/ops/stack.yaml": "source:\n  type: compose\n  file: stack/compose.yml\n",
		"apps/ops/stack/compose.yml": "services:\n  root:\n    image: x\n    privileged: true\n    network_mode: host\n    pid: host\n" +
			"    volumes: ['/:/host', '/var/run/docker.sock:/var/run/docker.sock']\n    devices: ['/dev/kmsg']\n    cap_add: [SYS_ADMIN]\n",
		"apps/ops/local.yaml": "source:\n  type: dockerfile\n  git:\n    url: file:///srv/git/app\nport: 8080\n",
	}
	for name, body := range files {
		gitserver.Write(t, filepath.Join(dir, name), body)
	}
	r := run(t, nil, "validate", dir)
	assert.Equal(t, 1, r.code)
	for _, want := range []string{
		"apps/ops/stack/compose.yml:4:17: services.root.privileged: privileged: true needs --allow privileged",
		"apps/ops/stack/compose.yml:5:19: services.root.network_mode: network_mode: host (the host's namespace) needs --allow host-network",
		"apps/ops/stack/compose.yml:6:10: services.root.pid: pid: host (the host's namespace) needs --allow host-pid",
		"apps/ops/stack/compose.yml:7:15: services.root.volumes.0: bind mount of / (reaches the Docker socket) needs --allow docker-socket",
		"apps/ops/stack/compose.yml:7:15: services.root.volumes.0: bind mount of / (a host path outside the release) needs --allow host-mounts",
		"apps/ops/stack/compose.yml:7:26: services.root.volumes.1: bind mount of /var/run/docker.sock (the Docker socket) needs --allow docker-socket",
		"apps/ops/stack/compose.yml:8:14: services.root.devices: devices needs --allow devices",
		"apps/ops/stack/compose.yml:9:14: services.root.cap_add: cap_add SYS_ADMIN needs --allow cap-add",
		"apps/ops/local.yaml:4:10: source.git.url: an app repo on this host (file:///srv/git/app) needs --allow local-repos",
	} {
		assert.Contains(t, r.stdout, want)
	}
	r = run(t, nil, "validate", dir, "--allow", "privileged,host-network,host-pid,host-mounts,docker-socket,devices,cap-add,local-repos")
	assert.Equal(t, 0, r.code, r.stdout+r.stderr)
	r = run(t, []string{"BERTH_ALLOW=privileged,host-network,host-pid,host-mounts,docker-socket,devices,cap-add,local-repos"}, "validate", dir)
	assert.Equal(t, 0, r.code, "BERTH_ALLOW works too: %s", r.stdout)
	r = run(t, nil, "validate", dir, "--allow", "root")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `"root" is not one of`)
}

// TestTrustedSigners: with --trusted-signers, sync refuses a config repo
// whose tip no trusted key signed (nothing is deployed), a broken signers
// file is a usage error naming its line, and plan shows the head's
// signature.
func TestTrustedSigners(t *testing.T) {
	ops := gitserver.NewSSHSigner(t, "ops@example.com")
	signers := filepath.Join(t.TempDir(), "allowed_signers")
	require.NoError(t, os.WriteFile(signers, []byte("# the ops team\n"+ops.Trusted), 0o644))
	src := gitserver.Start(t).NewRepo(t, "config")
	src.Write("apps/shop/web.yaml", "source:\n  type: image\n  image: shop/web:1\nport: 8080\n")
	base := src.PushSigned("signed", ops)
	src.Write("apps/shop/web.yaml", "source:\n  type: image\n  image: shop/web:2\nport: 8080\n")
	head := src.Push("unsigned")

	r := run(t, nil, "plan", "--base", base, "--trusted-signers", signers, src.Dir)
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stdout, "head: "+head[:7]+" is not verified: the commit is not signed: agents with --trusted-signers will not deploy it")
	r = run(t, nil, "plan", "--base", "HEAD~1", "--head", base, "--trusted-signers", signers, "--json", src.Dir)
	assert.Contains(t, r.stdout, `"signer": "ops@example.com"`)
	r = run(t, nil, "plan", "--base", base, src.Dir)
	assert.NotContains(t, r.stdout, "head:", "no signature line unless asked")

	broken := filepath.Join(t.TempDir(), "broken")
	require.NoError(t, os.WriteFile(broken, []byte(ops.Trusted+"bob ssh-ed25519\n"), 0o644))
	r = run(t, nil, "sync", "--repo", src.URL, "--trusted-signers", broken, "--state-dir", t.TempDir(), "--router", "none")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, broken+":2: allowed signer \"bob\"")

	dockertest.Docker(t)
	name := dockertest.AgentName(t)
	r = run(t, nil, "sync", "--repo", src.URL, "--trusted-signers", signers, "--state-dir", t.TempDir(), "--agent-name", name,
		"--router", "none", "--status-branch", "")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, head[:7]+" is not verified: the commit is not signed, and no verified commit was checked out before")
}

// TestRouterAutoUsesOnlyBerthProxy: `--router auto` adds routes to a
// `berth proxy` and leaves a Caddy someone else runs exactly as it was.
func TestRouterAutoUsesOnlyBerthProxy(t *testing.T) {
	w := newCrashWorld(t)
	img := dockertest.Image(t, "cli")
	w.src.Write("apps/"+w.app+"/web.yaml", fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: auto\nport: 8080\nroute:\n  hosts: [%s]\n", img, w.host)).Push("web")
	auto := append(append([]string{}, w.env...), "BERTH_ROUTER=auto")

	foreignHTTP := loopback.FreeAddr(t)
	foreign := caddytest.Start(t, func(admin string) map[string]any {
		return map[string]any{"admin": map[string]any{"listen": admin}, "apps": map[string]any{"http": map[string]any{"servers": map[string]any{
			"site": map[string]any{"listen": []string{foreignHTTP}, "automatic_https": map[string]any{"disable": true},
				"routes": []any{map[string]any{"handle": []any{map[string]any{"handler": "static_response", "body": "operator"}}}}}}}}}
	})
	before := caddytest.Config(t, foreign)
	r := run(t, append(auto, "BERTH_CADDY_ADMIN="+foreign, "BERTH_HTTP="+foreignHTTP), "sync", "--repo", w.src.URL)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Berth did not start it")
	assert.JSONEq(t, before, caddytest.Config(t, foreign), "the operator's Caddy is untouched")

	r = run(t, append(auto, "BERTH_STATE_DIR="+t.TempDir()), "sync", "--repo", w.src.URL)
	require.Equal(t, 0, r.code, r.stderr)
	body, err := loopback.Get(&http.Client{Timeout: 5 * time.Second}, w.proxy, w.host)
	require.NoError(t, err)
	assert.Contains(t, body, "auto", "berth proxy serves the route auto added")
}

// TestAgentRefusesAnOpenAPI: an API other machines can reach needs a
// token, and an empty token file is an error, not "no auth".
func TestAgentRefusesAnOpenAPI(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	short := filepath.Join(t.TempDir(), "short")
	require.NoError(t, os.WriteFile(short, []byte("hunter2\n"), 0o600))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all interfaces without a token", []string{"--listen", "0.0.0.0:0"}, "accepts connections from other machines: set --api-token-file"},
		{"empty token file", []string{"--listen", "127.0.0.1:0", "--api-token-file", empty}, "--api-token-file: " + empty + " is empty"},
		{"a short token", []string{"--listen", "127.0.0.1:0", "--api-token-file", short}, "--api-token-file: the token has 7 bytes; use at least 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"agent", "--repo", t.TempDir(), "--state-dir", t.TempDir(), "--router", "none"}, tc.args...)...)
			assert.Equal(t, 2, r.code)
			assert.Contains(t, r.stderr, tc.want)
		})
	}
}
