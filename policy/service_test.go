package policy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/policy"
)

// TestServiceVerdicts maps each setting of a Swarm service spec (the
// object sent to Swarm) to the policy's verdict.
func TestServiceVerdicts(t *testing.T) {
	release := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(release, "link")); err != nil {
		t.Fatal(err)
	}
	scope := policy.ServiceScope{Release: release, Stack: "shop"}
	type edit func(*swarm.ContainerSpec, *swarm.TaskSpec)
	mounts := func(ms ...mount.Mount) edit {
		return func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) { c.Mounts = ms }
	}
	tests := []struct {
		name string
		edit edit
		want policy.Permission
	}{
		{"plain", func(*swarm.ContainerSpec, *swarm.TaskSpec) {}, ""},
		{"cap_add", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) { c.CapabilityAdd = []string{"SYS_ADMIN"} }, policy.CapAdd},
		{"cap_drop", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) { c.CapabilityDrop = []string{"ALL"} }, ""},
		{"own secret", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Secrets = []*swarm.SecretReference{{SecretName: "shop_db_password"}}
		}, ""},
		{"another stack's secret", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Secrets = []*swarm.SecretReference{{SecretName: "billing_db_password"}}
		}, policy.SharedVolumes},
		{"another stack's config", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Configs = []*swarm.ConfigReference{{ConfigName: "billing_nginx"}}
		}, policy.SharedVolumes},
		{"seccomp unconfined", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Privileges = &swarm.Privileges{Seccomp: &swarm.SeccompOpts{Mode: swarm.SeccompModeUnconfined}}
		}, policy.Privileged},
		{"custom seccomp profile", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Privileges = &swarm.Privileges{Seccomp: &swarm.SeccompOpts{Mode: swarm.SeccompModeCustom, Profile: []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`)}}
		}, policy.Privileged},
		{"apparmor disabled", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Privileges = &swarm.Privileges{AppArmor: &swarm.AppArmorOpts{Mode: swarm.AppArmorModeDisabled}}
		}, policy.Privileged},
		{"no new privileges", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Privileges = &swarm.Privileges{NoNewPrivileges: true}
		}, ""},
		{"host sysctl", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Sysctls = map[string]string{"kernel.core_pattern": "|/x"}
		}, policy.Privileged},
		{"namespaced sysctl", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Sysctls = map[string]string{"net.core.somaxconn": "1024"}
		}, ""},
		{"GPUs", func(_ *swarm.ContainerSpec, t *swarm.TaskSpec) {
			t.Resources = &swarm.ResourceRequirements{Reservations: &swarm.Resources{GenericResources: []swarm.GenericResource{{DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: "gpu", Value: 1}}}}}
		}, policy.Devices},
		{"host network", func(_ *swarm.ContainerSpec, t *swarm.TaskSpec) {
			t.Networks = []swarm.NetworkAttachmentConfig{{Target: "host"}}
		}, policy.HostNetwork},
		{"another stack's network", func(_ *swarm.ContainerSpec, t *swarm.TaskSpec) {
			t.Networks = []swarm.NetworkAttachmentConfig{{Target: "bank_default"}}
		}, policy.SharedNetworks},
		{"own network", func(_ *swarm.ContainerSpec, t *swarm.TaskSpec) {
			t.Networks = []swarm.NetworkAttachmentConfig{{Target: "shop_default"}}
		}, ""},
		{"bind of the host", mounts(mount.Mount{Type: mount.TypeBind, Source: "/etc", Target: "/x", ReadOnly: true}), policy.HostMounts},
		{"bind of the docker socket", mounts(mount.Mount{Type: mount.TypeBind, Source: "/var/run/docker.sock", Target: "/s"}), policy.DockerSocket},
		{"read-only bind of the release", mounts(mount.Mount{Type: mount.TypeBind, Source: release, Target: "/x", ReadOnly: true}), ""},
		{"writable bind of the release", mounts(mount.Mount{Type: mount.TypeBind, Source: release, Target: "/x"}), policy.HostMounts},
		{"bind through a symlink out", mounts(mount.Mount{Type: mount.TypeBind, Source: filepath.Join(release, "link"), Target: "/x", ReadOnly: true}), policy.HostMounts},
		{"own volume", mounts(mount.Mount{Type: mount.TypeVolume, Source: "shop_data", Target: "/d"}), ""},
		{"anonymous volume", mounts(mount.Mount{Type: mount.TypeVolume, Target: "/d"}), ""},
		{"another stack's volume", mounts(mount.Mount{Type: mount.TypeVolume, Source: "bank_data", Target: "/d"}), policy.SharedVolumes},
		{"volume on a host path", mounts(mount.Mount{Type: mount.TypeVolume, Source: "shop_data", Target: "/d",
			VolumeOptions: &mount.VolumeOptions{DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"type": "none", "o": "bind", "device": "/"}}}}), policy.HostMounts},
		{"tmpfs", mounts(mount.Mount{Type: mount.TypeTmpfs, Target: "/t"}), ""},
		{"npipe", mounts(mount.Mount{Type: mount.TypeNamedPipe, Source: `\\.\pipe\docker_engine`, Target: "/p"}), policy.HostMounts},
		{"credential spec", func(c *swarm.ContainerSpec, _ *swarm.TaskSpec) {
			c.Privileges = &swarm.Privileges{CredentialSpec: &swarm.CredentialSpec{File: "/etc/shadow"}}
		}, policy.HostMounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "shop_web"}}
			spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: "web"}
			tt.edit(spec.TaskTemplate.ContainerSpec, &spec.TaskTemplate)
			vs := policy.Policy{}.Service(spec, scope)
			if tt.want == "" {
				assert.Empty(t, vs)
				return
			}
			if assert.NotEmpty(t, vs) {
				assert.Equal(t, tt.want, vs[0].Permission)
				assert.Contains(t, vs[0].Field, "service shop_web")
				// The operator's words let it through.
				granted := policy.Policy{}
				for _, v := range vs {
					granted[v.Permission] = true
				}
				assert.Empty(t, granted.Service(spec, scope))
			}
		})
	}
}
