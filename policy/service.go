package policy

import (
	"slices"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// ServiceScope is what a Swarm service may reach without a word: its
// release folder (read-only binds), the stack's own volumes and networks
// (named with the stack's prefix).
type ServiceScope struct {
	Release string
	Stack   string // the namespace: own objects are "<stack>_<name>"
}

func (s ServiceScope) own(name string) bool { return strings.HasPrefix(name, s.Stack+"_") }

// Service checks a Swarm service spec — the exact object sent to Swarm,
// before it is sent: its task template is what every task of the service
// runs, on any node. It holds the same settings to the same words as
// Container does for a container.
func (p Policy) Service(spec swarm.ServiceSpec, scope ServiceScope) []Violation {
	c := &containerCheck{p: p, kind: "service", field: spec.Name}
	cs := spec.TaskTemplate.ContainerSpec
	if cs == nil {
		if spec.TaskTemplate.PluginSpec != nil || spec.TaskTemplate.NetworkAttachmentSpec != nil {
			c.deny(Privileged, "task_template", "a task that is not a container (a plugin or an attachment)")
		}
		return c.out
	}
	if pr := cs.Privileges; pr != nil {
		if pr.Seccomp != nil && pr.Seccomp.Mode != "" && pr.Seccomp.Mode != swarm.SeccompModeDefault {
			c.deny(Privileged, "security_opt", "seccomp %s", pr.Seccomp.Mode)
		}
		if pr.AppArmor != nil && pr.AppArmor.Mode == swarm.AppArmorModeDisabled {
			c.deny(Privileged, "security_opt", "apparmor disabled")
		}
		if pr.SELinuxContext != nil && pr.SELinuxContext.Disable {
			c.deny(Privileged, "security_opt", "selinux disabled")
		}
		if pr.CredentialSpec != nil {
			c.deny(HostMounts, "credential_spec", "a credential spec (read from the host)")
		}
	}
	if len(cs.CapabilityAdd) > 0 {
		c.deny(CapAdd, "cap_add", "cap_add %s", strings.Join(cs.CapabilityAdd, ", "))
	}
	for k := range cs.Sysctls {
		if !namespacedSysctl(k) {
			c.deny(Privileged, "sysctls", "the sysctl %s", k)
		}
	}
	if r := spec.TaskTemplate.Resources; r != nil && r.Reservations != nil && len(r.Reservations.GenericResources) > 0 {
		c.deny(Devices, "resources", "generic resources (GPUs and other devices)")
	}
	for _, m := range cs.Mounts {
		c.serviceMount(m, scope)
	}
	for _, ref := range cs.Secrets {
		if !scope.own(ref.SecretName) {
			c.deny(SharedVolumes, "secrets", "the Swarm secret %s (not this stack's)", ref.SecretName)
		}
	}
	for _, ref := range cs.Configs {
		if !scope.own(ref.ConfigName) {
			c.deny(SharedVolumes, "configs", "the Swarm config %s (not this stack's)", ref.ConfigName)
		}
	}
	for _, n := range spec.TaskTemplate.Networks {
		switch {
		case n.Target == "host":
			c.deny(HostNetwork, "networks", "the host's network")
		case !scope.own(n.Target):
			c.deny(SharedNetworks, "networks", "the network %s (outside this stack)", n.Target)
		}
	}
	return c.out
}

// serviceMount checks a mount of a task template.
func (c *containerCheck) serviceMount(m mount.Mount, scope ServiceScope) {
	switch m.Type {
	case mount.TypeBind:
		src := resolve(m.Source)
		if slices.ContainsFunc(dockerSockets, func(sock string) bool {
			return src == sock || strings.HasPrefix(sock, strings.TrimSuffix(src, "/")+"/")
		}) {
			c.deny(DockerSocket, "mounts", "bind mount of %s (reaches the Docker socket)", m.Source)
		}
		switch {
		case !within(scope.Release, src):
			c.deny(HostMounts, "mounts", "bind mount of %s (a host path outside the release)", m.Source)
		case !m.ReadOnly:
			c.deny(HostMounts, "mounts", "bind mount of %s is writable: the release is Berth's state", m.Source)
		}
	case mount.TypeVolume:
		if m.Source == "" {
			return
		}
		if !scope.own(m.Source) {
			c.deny(SharedVolumes, "mounts", "the volume %s (not this stack's)", m.Source)
		}
		if o := m.VolumeOptions; o != nil && o.DriverConfig != nil && o.DriverConfig.Options["device"] != "" {
			c.deny(HostMounts, "mounts", "the volume %s on the host path %q", m.Source, o.DriverConfig.Options["device"])
		}
	case mount.TypeTmpfs:
	default:
		c.deny(HostMounts, "mounts", "a %s mount of %s", m.Type, m.Source)
	}
}
