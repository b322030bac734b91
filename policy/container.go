package policy

import (
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// Scope is what a created container may reach without a word: its
// release folder (read-only binds), its own named volumes, and the other
// containers of its own project (shared namespaces, volumes_from).
type Scope struct {
	// Release is the folder of the release's files; "" when the workload
	// has none (an image): then no bind mount is its own.
	Release string
	// OwnVolume reports whether a named volume belongs to the workload.
	OwnVolume func(name string) bool
	// Sibling reports whether a container (by id or name) is of the same
	// project.
	Sibling func(ref string) bool
}

// Container checks a container as Docker created it (docker inspect),
// before it starts: the last word on what runs, whatever the text that
// asked for it said. Every setting that reaches the host or another app
// is refused unless the operator's policy grants its word. It is the one
// check for every kind (image, dockerfile, static, compose).
func (p Policy) Container(info container.InspectResponse, scope Scope) []Violation {
	c := &containerCheck{p: p, scope: scope, kind: "container", field: strings.TrimPrefix(info.Name, "/")}
	if hc := info.HostConfig; hc != nil {
		c.host(hc)
	}
	for _, m := range info.Mounts {
		c.mount(m)
	}
	return c.out
}

type containerCheck struct {
	p     Policy
	scope Scope
	kind  string // "container", "service"
	field string
	out   []Violation
}

func (c *containerCheck) deny(perm Permission, what, format string, args ...any) {
	if c.p.Allows(perm) {
		return
	}
	c.out = append(c.out, Violation{Permission: perm, Field: c.kind + " " + c.field + " " + what, Detail: fmt.Sprintf(format, args...)})
}

func (c *containerCheck) host(hc *container.HostConfig) {
	if hc.Privileged {
		c.deny(Privileged, "privileged", "privileged")
	}
	if len(hc.CapAdd) > 0 {
		c.deny(CapAdd, "cap_add", "cap_add %s", strings.Join(hc.CapAdd, ", "))
	}
	if len(hc.Devices) > 0 || len(hc.DeviceCgroupRules) > 0 || len(hc.DeviceRequests) > 0 {
		c.deny(Devices, "devices", "devices or device requests (GPUs)")
	}
	for _, o := range hc.SecurityOpt {
		if !safeSecurityOpt(o) {
			c.deny(Privileged, "security_opt", "security_opt %s", o)
		}
	}
	if hc.Runtime != "" && hc.Runtime != "runc" {
		c.deny(Privileged, "runtime", "the runtime %q", hc.Runtime)
	}
	if hc.CgroupParent != "" {
		c.deny(HostPID, "cgroup_parent", "cgroup_parent %s", hc.CgroupParent)
	}
	for k := range hc.Sysctls {
		if !namespacedSysctl(k) {
			c.deny(Privileged, "sysctls", "the sysctl %s", k)
		}
	}
	c.mode("network_mode", string(hc.NetworkMode), HostNetwork)
	c.mode("pid", string(hc.PidMode), HostPID)
	c.mode("ipc", string(hc.IpcMode), HostPID)
	c.mode("uts", string(hc.UTSMode), HostPID)
	c.mode("userns_mode", string(hc.UsernsMode), HostPID)
	// cgroupns: host is the daemon's own default on cgroup v1 hosts, so
	// it is no sign of a request here; the project check refuses a file
	// that asks for it (cgroup: host).
	for _, from := range hc.VolumesFrom {
		ref, _, _ := strings.Cut(from, ":")
		if c.scope.Sibling == nil || !c.scope.Sibling(ref) {
			c.deny(HostMounts, "volumes_from", "volumes_from %s (a container outside this project)", ref)
		}
	}
	for _, l := range hc.Links {
		ref, _, _ := strings.Cut(strings.TrimPrefix(l, "/"), ":")
		if c.scope.Sibling == nil || !c.scope.Sibling(ref) {
			c.deny(SharedNetworks, "links", "a link to %s (a container outside this project)", ref)
		}
	}
}

// mode checks a namespace mode: the host's, or a container's that is not
// of this project.
func (c *containerCheck) mode(what, mode string, perm Permission) {
	switch {
	case mode == "host":
		c.deny(perm, what, "%s: host (the host's namespace)", what)
	case strings.HasPrefix(mode, "container:"):
		ref := strings.TrimPrefix(mode, "container:")
		if c.scope.Sibling == nil || !c.scope.Sibling(ref) {
			c.deny(perm, what, "%s: %s (another app's namespace)", what, mode)
		}
	}
}

// mount checks a mount as Docker resolved it.
func (c *containerCheck) mount(m container.MountPoint) {
	switch m.Type {
	case mount.TypeBind:
		src := resolve(m.Source)
		for _, sock := range dockerSockets {
			if src == sock || strings.HasPrefix(sock, strings.TrimSuffix(src, "/")+"/") {
				c.deny(DockerSocket, "mounts", "bind mount of %s (reaches the Docker socket)", m.Source)
			}
		}
		switch {
		case !within(c.scope.Release, src):
			c.deny(HostMounts, "mounts", "bind mount of %s (a host path outside the release)", m.Source)
		case m.RW:
			c.deny(HostMounts, "mounts", "bind mount of %s is writable: the release is Berth's state", m.Source)
		}
	case mount.TypeVolume:
		if m.Name == "" || anonymousVolume(m.Name) {
			return
		}
		if c.scope.OwnVolume == nil || !c.scope.OwnVolume(m.Name) {
			c.deny(SharedVolumes, "mounts", "the volume %s (not this workload's)", m.Name)
		}
	case mount.TypeTmpfs, "":
	default:
		c.deny(HostMounts, "mounts", "a %s mount of %s", m.Type, m.Source)
	}
}

// anonymousVolume reports whether a volume name is one Docker generated.
func anonymousVolume(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, r := range name {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
