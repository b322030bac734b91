package policy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/berthops/berth/policy"
)

func check(t *testing.T, p policy.Policy, doc, base string) []string {
	t.Helper()
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(doc), &n))
	var out []string
	for _, v := range p.Compose(&n, base) {
		out = append(out, string(v.Permission)+" "+v.Field)
	}
	return out
}

func TestComposeNeedsPermissions(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"plain", "services:\n  web:\n    image: nginx\n    volumes: [data:/data, ./conf:/etc/conf:ro]\n    ports: ['80:80']\nvolumes:\n  data: {}\n", nil},
		{"privileged", "services:\n  web:\n    privileged: true\n", []string{"privileged services.web.privileged"}},
		{"unconfined", "services:\n  web:\n    security_opt: [seccomp=unconfined]\n", []string{"privileged services.web.security_opt"}},
		{"host root", "services:\n  web:\n    volumes: ['/:/host']\n", []string{"docker-socket services.web.volumes.0", "host-mounts services.web.volumes.0"}},
		{"escaping bind", "services:\n  web:\n    volumes: ['../../etc:/etc2']\n", []string{"host-mounts services.web.volumes.0"}},
		{"long bind", "services:\n  web:\n    volumes:\n      - type: bind\n        source: /srv\n        target: /srv\n", []string{"host-mounts services.web.volumes.0"}},
		{"docker socket", "services:\n  web:\n    volumes: ['/var/run/docker.sock:/var/run/docker.sock']\n", []string{"docker-socket services.web.volumes.0"}},
		{"socket through its folder", "services:\n  web:\n    volumes: ['/run:/host-run']\n", []string{"docker-socket services.web.volumes.0", "host-mounts services.web.volumes.0"}},
		{"host network", "services:\n  web:\n    network_mode: host\n", []string{"host-network services.web.network_mode"}},
		{"host pid", "services:\n  web:\n    pid: host\n    ipc: host\n", []string{"host-pid services.web.ipc", "host-pid services.web.pid"}},
		{"devices", "services:\n  web:\n    devices: ['/dev/sda:/dev/sda']\n", []string{"devices services.web.devices"}},
		{"cap_add", "services:\n  web:\n    cap_add: [SYS_ADMIN]\n", []string{"cap-add services.web.cap_add"}},
		{"env_file from the host", "services:\n  web:\n    env_file: /root/.env\n", []string{"host-mounts services.web.env_file"}},
		{"build context from the host", "services:\n  web:\n    build: /home/x\n", []string{"host-mounts services.web.build"}},
		{"volume on a host path", "volumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /etc}\n", []string{"host-mounts volumes.data.driver_opts.device"}},
		{"secret file from the host", "secrets:\n  key:\n    file: /etc/shadow\n", []string{"host-mounts secrets.key.file"}},
		{"interpolated: left to the rendered check", "services:\n  web:\n    volumes: ['${DIR}:/x']\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, check(t, policy.Policy{}, tc.doc, ""))
		})
	}
	all, err := policy.Parse("privileged,host-mounts,host-network,host-pid,devices,cap-add,docker-socket,local-repos")
	require.NoError(t, err)
	for _, tc := range tests {
		assert.Empty(t, check(t, all, tc.doc, ""), "everything allowed: %s", tc.name)
	}
}

func TestRenderedProjectPaths(t *testing.T) {
	doc := `{"services":{"web":{"volumes":[{"type":"bind","source":"/state/compose/p/h/conf","target":"/c"},{"type":"bind","source":"/etc","target":"/e"}]}}}`
	assert.Equal(t, []string{"host-mounts services.web.volumes.1"}, check(t, policy.Policy{}, doc, "/state/compose/p/h"),
		"a bind inside the project's own copy is fine; /etc is not")
}

func TestParseAndRepoURL(t *testing.T) {
	_, err := policy.Parse("privileged,root")
	require.ErrorContains(t, err, `"root" is not one of privileged, host-mounts`)
	p, err := policy.Parse(" host-network , ")
	require.NoError(t, err)
	assert.True(t, p.Allows(policy.HostNetwork))
	assert.False(t, p.Allows(policy.Privileged))
	for u, local := range map[string]bool{"file:///srv/git/app": true, "/srv/git/app": true, "../app": true,
		"https://git.example.com/app.git": false, "git@github.com:acme/app.git": false, "ssh://git@host/app": false} {
		assert.Equal(t, local, len(policy.Policy{}.RepoURL("source.git.url", u)) == 1, u)
	}
}
