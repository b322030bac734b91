package policy

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Project checks a rendered compose project (compose.Render: interpolated,
// includes and extends merged, paths absolute) — the object that is then
// applied, not the text that asked for it. release is the folder the
// project was rendered from (the release's own copy); a bind mount must
// stay inside it and be read-only, since the release is part of Berth's
// state. Every setting that reaches the host or another app is refused
// unless the operator's policy grants its word.
func (p Policy) Project(proj *types.Project, release string) []Violation {
	c := &projectCheck{p: p, release: release, proj: proj}
	names := make([]string, 0, len(proj.Services))
	for n := range proj.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.service("services."+n, proj.Services[n])
	}
	for _, n := range sortedKeys(proj.Volumes) {
		c.volume("volumes."+n, proj.Volumes[n])
	}
	for _, n := range sortedKeys(proj.Networks) {
		if net := proj.Networks[n]; bool(net.External) {
			c.deny(sharedOrHost(net.Name), "networks."+n, "the external network %q (outside this project)", firstOf(net.Name, n))
		}
	}
	for _, n := range sortedKeys(proj.Secrets) {
		c.file("secrets."+n+".file", types.FileObjectConfig(proj.Secrets[n]).File, "secret file")
	}
	for _, n := range sortedKeys(proj.Configs) {
		c.file("configs."+n+".file", types.FileObjectConfig(proj.Configs[n]).File, "config file")
	}
	if len(proj.Models) > 0 {
		c.deny(Providers, "models", "models (run by a provider on the host)")
	}
	return c.out
}

// dockerSockets are the paths through which a mount reaches the daemon.
var dockerSockets = []string{"/var/run/docker.sock", "/run/docker.sock"}

type projectCheck struct {
	p       Policy
	release string
	proj    *types.Project
	out     []Violation
}

func (c *projectCheck) deny(perm Permission, field, format string, args ...any) {
	if c.p.Allows(perm) {
		return
	}
	c.out = append(c.out, Violation{Permission: perm, Field: field, Detail: fmt.Sprintf(format, args...)})
}

func (c *projectCheck) service(f string, s types.ServiceConfig) {
	if s.Privileged {
		c.deny(Privileged, f+".privileged", "privileged: true")
	}
	if s.Provider != nil {
		c.deny(Providers, f+".provider", "provider %q (a program run on the host)", s.Provider.Type)
	}
	if len(s.CapAdd) > 0 {
		c.deny(CapAdd, f+".cap_add", "cap_add %s", strings.Join(s.CapAdd, ", "))
	}
	if len(s.Devices) > 0 {
		c.deny(Devices, f+".devices", "devices")
	}
	if len(s.DeviceCgroupRules) > 0 {
		c.deny(Devices, f+".device_cgroup_rules", "device_cgroup_rules")
	}
	if len(s.Gpus) > 0 {
		c.deny(Devices, f+".gpus", "gpus")
	}
	if s.Deploy != nil && s.Deploy.Resources.Reservations != nil && (len(s.Deploy.Resources.Reservations.Devices) > 0 || len(s.Deploy.Resources.Reservations.GenericResources) > 0) {
		c.deny(Devices, f+".deploy.resources.reservations.devices", "device reservations (GPUs)")
	}
	for _, o := range s.SecurityOpt {
		if !safeSecurityOpt(o) {
			c.deny(Privileged, f+".security_opt", "security_opt %s", o)
		}
	}
	if s.Runtime != "" && s.Runtime != "runc" {
		c.deny(Privileged, f+".runtime", "the runtime %q", s.Runtime)
	}
	if s.CgroupParent != "" {
		c.deny(HostPID, f+".cgroup_parent", "cgroup_parent %s", s.CgroupParent)
	}
	if s.UseAPISocket {
		c.deny(DockerSocket, f+".use_api_socket", "use_api_socket (the Docker API inside the container)")
	}
	c.namespace(f+".network_mode", s.NetworkMode, HostNetwork)
	c.namespace(f+".net", s.Net, HostNetwork)
	for k, v := range map[string]string{"pid": s.Pid, "ipc": s.Ipc, "uts": s.Uts, "userns_mode": s.UserNSMode, "cgroup": s.Cgroup} {
		c.namespace(f+"."+k, v, HostPID)
	}
	for k := range s.Sysctls {
		if !namespacedSysctl(k) {
			c.deny(Privileged, f+".sysctls", "the sysctl %s (not one of the container's own namespaces)", k)
		}
	}
	for _, from := range s.VolumesFrom {
		name, _, _ := strings.Cut(strings.TrimPrefix(from, "service:"), ":")
		if _, ok := c.proj.Services[name]; !ok || strings.HasPrefix(from, "container:") {
			c.deny(HostMounts, f+".volumes_from", "volumes_from %s (a container outside this project)", from)
		}
	}
	if len(s.ExternalLinks) > 0 {
		c.deny(SharedNetworks, f+".external_links", "external_links (containers outside this project)")
	}
	for i, v := range s.Volumes {
		c.mount(fmt.Sprintf("%s.volumes.%d", f, i), v)
	}
	if s.Build != nil {
		c.build(f+".build", s.Build)
	}
	for i, h := range append(slices.Clone(s.PostStart), s.PreStop...) {
		if h.Privileged {
			c.deny(Privileged, fmt.Sprintf("%s.hooks.%d", f, i), "a privileged post_start/pre_stop hook")
		}
	}
}

// namespace checks a namespace mode: the host's, or another container's
// (another app's), needs a word; a service of this project is its own.
func (c *projectCheck) namespace(field, mode string, perm Permission) {
	key := field[strings.LastIndexByte(field, '.')+1:]
	switch {
	case mode == "host":
		c.deny(perm, field, "%s: %s (the host's namespace)", key, mode)
	case strings.HasPrefix(mode, "container:"):
		c.deny(perm, field, "%s: %s (another container's namespace)", key, mode)
	case strings.HasPrefix(mode, "service:"):
		if _, ok := c.proj.Services[strings.TrimPrefix(mode, "service:")]; !ok {
			c.deny(perm, field, "%s: %s (not a service of this project)", key, mode)
		}
	}
}

func (c *projectCheck) mount(field string, v types.ServiceVolumeConfig) {
	switch v.Type {
	case types.VolumeTypeBind:
		c.bind(field, v.Source, v.ReadOnly)
	case types.VolumeTypeVolume:
		if v.Source == "" {
			return // anonymous
		}
		for key, vol := range c.proj.Volumes {
			if (key == v.Source || vol.Name == v.Source) && bool(vol.External) {
				c.deny(SharedVolumes, field, "the external volume %q (another workload's, or made outside Berth)", firstOf(vol.Name, v.Source))
				break
			}
		}
	case types.VolumeTypeTmpfs, types.VolumeTypeImage:
	default:
		c.deny(HostMounts, field, "a %s mount", v.Type)
	}
}

// bind checks a bind mount's source: inside the release (symlinks
// resolved) and read-only, or the host's, which needs a word.
func (c *projectCheck) bind(field, src string, readOnly bool) {
	real := resolve(src)
	for _, sock := range dockerSockets {
		if real == sock {
			c.deny(DockerSocket, field, "bind mount of %s (the Docker socket)", src)
			return
		}
		if strings.HasPrefix(sock, strings.TrimSuffix(real, "/")+"/") {
			c.deny(DockerSocket, field, "bind mount of %s (reaches the Docker socket)", src)
			break
		}
	}
	if !within(c.release, real) {
		c.deny(HostMounts, field, "bind mount of %s (a host path outside the release)", src)
		return
	}
	if !readOnly {
		c.deny(HostMounts, field, "bind mount of %s is writable: the release is Berth's state (mount it :ro, or use a named volume)", rel(c.release, src))
	}
}

func (c *projectCheck) build(f string, b *types.BuildConfig) {
	if b.Context != "" && !remoteContext(b.Context) && !within(c.release, resolve(b.Context)) {
		c.deny(HostMounts, f+".context", "the build context %s (a host path outside the release)", b.Context)
	}
	for name, ctx := range b.AdditionalContexts {
		if !remoteContext(ctx) && !within(c.release, resolve(ctx)) {
			c.deny(HostMounts, f+".additional_contexts."+name, "the build context %s (a host path outside the release)", ctx)
		}
	}
	if b.Network == "host" {
		c.deny(HostNetwork, f+".network", "a build on the host's network")
	}
	if b.Privileged {
		c.deny(Privileged, f+".privileged", "a privileged build")
	}
	for _, e := range b.Entitlements {
		c.deny(Privileged, f+".entitlements", "the build entitlement %s", e)
	}
	if len(b.SSH) > 0 {
		c.deny(HostMounts, f+".ssh", "the agent's SSH keys in a build")
	}
}

func (c *projectCheck) volume(field string, v types.VolumeConfig) {
	dev := v.DriverOpts["device"]
	if dev == "" && !strings.Contains(v.DriverOpts["o"], "bind") {
		return
	}
	if v.DriverOpts["type"] == "tmpfs" {
		return
	}
	c.deny(HostMounts, field+".driver_opts", "a volume on the host path %q", dev)
}

func (c *projectCheck) file(field, path, what string) {
	if path == "" {
		return
	}
	if !within(c.release, resolve(path)) {
		c.deny(HostMounts, field, "the %s %s (a host path outside the release)", what, path)
	}
}

// safeSecurityOpt is a security_opt that only takes privileges away.
func safeSecurityOpt(o string) bool {
	switch strings.ReplaceAll(o, "=", ":") {
	case "no-new-privileges", "no-new-privileges:true":
		return true
	}
	return false
}

// namespacedSysctl is a sysctl Docker sets in the container's own
// namespaces (its network, IPC and message queues), never the host's.
func namespacedSysctl(k string) bool {
	return strings.HasPrefix(k, "net.") || strings.HasPrefix(k, "fs.mqueue.") ||
		slices.Contains([]string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}, k)
}

// resolve is an absolute path with its symlinks resolved as far as they
// exist.
func resolve(p string) string {
	p = filepath.Clean(p)
	if real, err := filepath.EvalSymlinks(p); err == nil {
		return real
	}
	dir, base := filepath.Split(p)
	if dir == "" || dir == p {
		return p
	}
	return filepath.Join(resolve(strings.TrimSuffix(dir, "/")), base)
}

func within(dir, p string) bool {
	if dir == "" || !filepath.IsAbs(p) {
		return false
	}
	dir = resolve(dir)
	r, err := filepath.Rel(dir, p)
	return err == nil && (r == "." || filepath.IsLocal(r))
}

func rel(dir, p string) string {
	if r, err := filepath.Rel(resolve(dir), resolve(p)); err == nil && filepath.IsLocal(r) {
		return "./" + r
	}
	return p
}

func remoteContext(ctx string) bool {
	return strings.Contains(ctx, "://") || strings.HasPrefix(ctx, "git@") ||
		strings.HasPrefix(ctx, "service:") || strings.HasPrefix(ctx, "target:")
}

func sharedOrHost(name string) Permission {
	if name == "host" || name == "bridge" {
		return HostNetwork
	}
	return SharedNetworks
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
