package policy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/policy"
)

// TestContainerVerdicts maps each setting of a container as Docker
// created it to the policy's verdict.
func TestContainerVerdicts(t *testing.T) {
	release := t.TempDir()
	outside := t.TempDir()
	link := filepath.Join(release, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	scope := policy.Scope{
		Release:   release,
		OwnVolume: func(n string) bool { return strings.HasPrefix(n, "proj_") },
		Sibling:   func(ref string) bool { return ref == "proj-db-1" || ref == "0123456789ab" },
	}
	bind := func(src string, rw bool) []container.MountPoint {
		return []container.MountPoint{{Type: mount.TypeBind, Source: src, Destination: "/x", RW: rw}}
	}
	vol := func(name string) []container.MountPoint {
		return []container.MountPoint{{Type: mount.TypeVolume, Name: name, Destination: "/d", RW: true}}
	}
	tests := []struct {
		name   string
		hc     container.HostConfig
		mounts []container.MountPoint
		want   policy.Permission
	}{
		{"plain", container.HostConfig{}, nil, ""},
		{"privileged", container.HostConfig{Privileged: true}, nil, policy.Privileged},
		{"cap_add", container.HostConfig{CapAdd: []string{"NET_ADMIN"}}, nil, policy.CapAdd},
		{"devices", container.HostConfig{Resources: container.Resources{Devices: []container.DeviceMapping{{PathOnHost: "/dev/sda"}}}}, nil, policy.Devices},
		{"device requests", container.HostConfig{Resources: container.Resources{DeviceRequests: []container.DeviceRequest{{Count: -1}}}}, nil, policy.Devices},
		{"host network", container.HostConfig{NetworkMode: "host"}, nil, policy.HostNetwork},
		{"another app's network", container.HostConfig{NetworkMode: "container:other"}, nil, policy.HostNetwork},
		{"a sibling's network", container.HostConfig{NetworkMode: "container:0123456789ab"}, nil, ""},
		{"host pid", container.HostConfig{PidMode: "host"}, nil, policy.HostPID},
		{"another app's pid", container.HostConfig{PidMode: "container:other"}, nil, policy.HostPID},
		{"host ipc", container.HostConfig{IpcMode: "host"}, nil, policy.HostPID},
		{"shareable ipc", container.HostConfig{IpcMode: "shareable"}, nil, ""},
		{"host uts", container.HostConfig{UTSMode: "host"}, nil, policy.HostPID},
		{"host userns", container.HostConfig{UsernsMode: "host"}, nil, policy.HostPID},
		{"cgroup parent", container.HostConfig{Resources: container.Resources{CgroupParent: "/"}}, nil, policy.HostPID},
		{"seccomp profile", container.HostConfig{SecurityOpt: []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}}, nil, policy.Privileged},
		{"no-new-privileges", container.HostConfig{SecurityOpt: []string{"no-new-privileges"}}, nil, ""},
		{"host sysctl", container.HostConfig{Sysctls: map[string]string{"kernel.core_pattern": "|/x"}}, nil, policy.Privileged},
		{"another runtime", container.HostConfig{Runtime: "nvidia"}, nil, policy.Privileged},
		{"volumes_from another app", container.HostConfig{VolumesFrom: []string{"other:ro"}}, nil, policy.HostMounts},
		{"volumes_from a sibling", container.HostConfig{VolumesFrom: []string{"proj-db-1"}}, nil, ""},
		{"a link outside", container.HostConfig{Links: []string{"/other:/proj-web-1/other"}}, nil, policy.SharedNetworks},
		{"bind of /etc", container.HostConfig{}, bind("/etc", false), policy.HostMounts},
		{"bind of the docker socket", container.HostConfig{}, bind("/var/run/docker.sock", true), policy.DockerSocket},
		{"read-only bind inside", container.HostConfig{}, bind(filepath.Join(release, "conf"), false), ""},
		{"writable bind inside", container.HostConfig{}, bind(release, true), policy.HostMounts},
		{"bind through a symlink out", container.HostConfig{}, bind(link, false), policy.HostMounts},
		{"own volume", container.HostConfig{}, vol("proj_data"), ""},
		{"another workload's volume", container.HostConfig{}, vol("berth-other_app_data"), policy.SharedVolumes},
		{"anonymous volume", container.HostConfig{}, vol(strings.Repeat("ab", 32)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := tt.hc
			info := container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{Name: "/proj-web-1", HostConfig: &hc}, Mounts: tt.mounts}
			vs := policy.Policy{}.Container(info, scope)
			if tt.want == "" {
				assert.Empty(t, vs)
				return
			}
			if assert.NotEmpty(t, vs) {
				assert.Equal(t, tt.want, vs[0].Permission, vs[0].Error())
			}
			grant := policy.Policy{}
			for _, v := range vs {
				grant[v.Permission] = true
			}
			assert.Empty(t, grant.Container(info, scope), "the words it names grant it")
		})
	}
}
