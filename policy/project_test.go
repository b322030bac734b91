package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/sources/compose"
)

// TestProjectVerdicts maps each container setting a compose file can ask
// for to the policy's verdict on the rendered project: nil for allowed,
// else the word that grants it.
func TestProjectVerdicts(t *testing.T) {
	tests := []struct {
		name string
		svc  string // the service body, indented by 4
		top  string // top-level sections
		want policy.Permission
	}{
		{"plain", "image: x\nports: [\"127.0.0.1::80\"]\n", "", ""},
		{"privileged", "image: x\nprivileged: true\n", "", policy.Privileged},
		{"cap_add", "image: x\ncap_add: [SYS_ADMIN]\n", "", policy.CapAdd},
		{"cap_drop only", "image: x\ncap_drop: [ALL]\n", "", ""},
		{"devices", "image: x\ndevices: [\"/dev/sda:/dev/sda\"]\n", "", policy.Devices},
		{"gpus", "image: x\ngpus: all\n", "", policy.Devices},
		{"device reservations", "image: x\ndeploy:\n  resources:\n    reservations:\n      devices:\n        - capabilities: [gpu]\n", "", policy.Devices},
		{"host network", "image: x\nnetwork_mode: host\n", "", policy.HostNetwork},
		{"another container's network", "image: x\nnetwork_mode: \"container:other-app\"\n", "", policy.HostNetwork},
		{"a sibling's network", "image: x\nnetwork_mode: \"service:db\"\n", "", ""},
		{"host pid", "image: x\npid: host\n", "", policy.HostPID},
		{"another container's pid", "image: x\npid: \"container:other-app\"\n", "", policy.HostPID},
		{"host ipc", "image: x\nipc: host\n", "", policy.HostPID},
		{"host uts", "image: x\nuts: host\n", "", policy.HostPID},
		{"host userns", "image: x\nuserns_mode: host\n", "", policy.HostPID},
		{"cgroup host", "image: x\ncgroup: host\n", "", policy.HostPID},
		{"cgroup_parent", "image: x\ncgroup_parent: /system.slice\n", "", policy.HostPID},
		{"seccomp unconfined", "image: x\nsecurity_opt: [\"seccomp:unconfined\"]\n", "", policy.Privileged},
		{"a seccomp profile", "image: x\nsecurity_opt: [\"seccomp=profile.json\"]\n", "", policy.Privileged},
		{"apparmor unconfined", "image: x\nsecurity_opt: [\"apparmor:unconfined\"]\n", "", policy.Privileged},
		{"no-new-privileges", "image: x\nsecurity_opt: [\"no-new-privileges:true\"]\n", "", ""},
		{"host sysctl", "image: x\nsysctls:\n  kernel.domainname: x\n", "", policy.Privileged},
		{"namespaced sysctl", "image: x\nsysctls:\n  net.core.somaxconn: 1024\n", "", ""},
		{"bind of /", "image: x\nvolumes: [\"/:/host\"]\n", "", policy.DockerSocket},
		{"bind of the docker socket", "image: x\nvolumes: [\"/var/run/docker.sock:/s\"]\n", "", policy.DockerSocket},
		{"long bind of a host path", "image: x\nvolumes:\n  - type: bind\n    source: /srv\n    target: /srv\n    read_only: true\n", "", policy.HostMounts},
		{"bind of /run", "image: x\nvolumes: [\"/run:/host-run:ro\"]\n", "", policy.DockerSocket},
		{"bind of /var/run", "image: x\nvolumes: [\"/var/run:/r\"]\n", "", policy.DockerSocket},
		{"writable bind of the release", "image: x\nvolumes: [\"./:/w\"]\n", "", policy.HostMounts},
		{"read-only bind inside", "image: x\nvolumes: [\"./conf:/conf:ro\"]\n", "", ""},
		{"bind that leaves by ..", "image: x\nvolumes: [\"../..:/up:ro\"]\n", "", policy.HostMounts},
		{"interpolated to a host path", "image: x\nvolumes: [\"${SRC:-/}:/host:ro\"]\n", "", policy.DockerSocket},
		{"interpolated to /etc", "image: x\nvolumes: [\"${SRC:-/etc}:/host:ro\"]\n", "", policy.HostMounts},
		{"named volume", "image: x\nvolumes: [\"data:/data\"]\n", "volumes:\n  data: {}\n", ""},
		{"external volume", "image: x\nvolumes: [\"data:/data\"]\n", "volumes:\n  data:\n    external: true\n    name: berth-other_app_data\n", policy.SharedVolumes},
		{"a volume on a host path", "image: x\nvolumes: [\"data:/data\"]\n", "volumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /etc}\n", policy.HostMounts},
		{"a volume bound to the release", "image: x\nvolumes: [\"data:/data\"]\n", "volumes:\n  data:\n    driver_opts: {type: none, o: bind, device: ./data}\n", policy.HostMounts},
		{"tmpfs", "image: x\ntmpfs: [/tmp]\n", "", ""},
		{"volumes_from another container", "image: x\nvolumes_from: [\"container:other-app\"]\n", "", policy.HostMounts},
		{"volumes_from a sibling", "image: x\nvolumes_from: [db]\n", "", ""},
		{"external network host", "image: x\nnetworks: [n]\n", "networks:\n  n:\n    external: true\n    name: host\n", policy.HostNetwork},
		{"another app's network", "image: x\nnetworks: [n]\n", "networks:\n  n:\n    external: true\n    name: berth-other\n", policy.SharedNetworks},
		{"own network", "image: x\nnetworks: [n]\n", "networks:\n  n: {}\n", ""},
		{"external_links", "image: x\nexternal_links: [other-app]\n", "", policy.SharedNetworks},
		{"provider", "provider:\n  type: ./evil.sh\n", "", policy.Providers},
		{"build on the host network", "build:\n  context: .\n  network: host\n", "", policy.HostNetwork},
		{"build context outside", "build:\n  context: /etc\n", "", policy.HostMounts},
		{"additional context outside", "build:\n  context: .\n  additional_contexts:\n    host: /etc\n", "", policy.HostMounts},
		{"additional context inside", "build:\n  context: .\n  additional_contexts:\n    more: ./conf\n", "", ""},
		{"build ssh", "build:\n  context: .\n  ssh: [default]\n", "", policy.HostMounts},
		{"build entitlement", "build:\n  context: .\n  entitlements: [security.insecure]\n", "", policy.Privileged},
		{"privileged hook", "image: x\npost_start:\n  - command: [\"/x\"]\n    privileged: true\n", "", policy.Privileged},
		{"plain hook", "image: x\npost_start:\n  - command: [\"/x\"]\n", "", ""},
		{"docker api socket", "image: x\nuse_api_socket: true\n", "", policy.DockerSocket},
		{"another runtime", "image: x\nruntime: runsc-privileged\n", "", policy.Privileged},
		{"secret file outside", "image: x\nsecrets: [s]\n", "secrets:\n  s:\n    file: /etc/shadow\n", policy.HostMounts},
		{"secret file inside", "image: x\nsecrets: [s]\n", "secrets:\n  s:\n    file: ./conf/s.txt\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "conf"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "conf", "s.txt"), []byte("s"), 0o644))
			doc := "services:\n  web:\n" + indent(tt.svc, "    ") + "  db:\n    image: y\n" + tt.top
			require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(doc), 0o644))
			proj, err := compose.Render(context.Background(), dir, "compose.yml", "p", nil)
			require.NoError(t, err, doc)
			vs := policy.Policy{}.Project(proj, dir)
			if tt.want == "" {
				assert.Empty(t, vs, doc)
				return
			}
			require.NotEmpty(t, vs, "%s must be refused:\n%s", tt.name, doc)
			assert.Equal(t, tt.want, vs[0].Permission, vs[0].Error())
			grant := policy.Policy{}
			for _, v := range vs {
				grant[v.Permission] = true
			}
			assert.Empty(t, grant.Project(proj, dir), "the words it names grant it")
		})
	}
}

func indent(s, by string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "")
}
