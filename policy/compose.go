package policy

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// dockerSockets are the paths through which a mount reaches the daemon.
var dockerSockets = []string{"/var/run/docker.sock", "/run/docker.sock"}

// Compose checks a compose document: the file as written (base "": a
// relative path must stay inside the file's folder), or what `docker
// compose config` rendered (base is the project folder: an absolute path
// must be inside it). It returns what the policy does not allow.
func (p Policy) Compose(doc *yaml.Node, base string) []Violation {
	c := &composeCheck{p: p, base: base}
	root := mappingOf(doc)
	for _, name := range keys(root) {
		switch name {
		case "services":
			svcs := value(root, "services")
			for _, svc := range keys(svcs) {
				c.service("services."+svc, value(svcs, svc))
			}
		case "volumes":
			c.topVolumes(value(root, "volumes"))
		case "configs", "secrets":
			c.files(name, value(root, name))
		case "include":
			c.includes(value(root, "include"))
		}
	}
	return c.out
}

type composeCheck struct {
	p    Policy
	base string
	out  []Violation
}

func (c *composeCheck) deny(perm Permission, field string, n *yaml.Node, format string, args ...any) {
	if c.p.Allows(perm) {
		return
	}
	v := Violation{Permission: perm, Field: field, Detail: fmt.Sprintf(format, args...)}
	if n != nil {
		v.Line, v.Col = n.Line, n.Column
	}
	c.out = append(c.out, v)
}

func (c *composeCheck) service(field string, svc *yaml.Node) {
	for _, k := range keys(svc) {
		v, f := value(svc, k), field+"."+k
		switch k {
		case "privileged":
			if scalar(v) == "true" {
				c.deny(Privileged, f, v, "privileged: true")
			}
		case "security_opt":
			for _, o := range items(v) {
				if s := scalar(o); strings.Contains(s, "unconfined") || strings.Contains(s, "label=disable") || strings.Contains(s, "label:disable") {
					c.deny(Privileged, f, o, "security_opt %s", s)
				}
			}
		case "cap_add":
			if len(items(v)) > 0 {
				c.deny(CapAdd, f, v, "cap_add %s", strings.Join(scalars(v), ", "))
			}
		case "devices", "device_cgroup_rules", "gpus":
			if len(items(v)) > 0 || scalar(v) != "" {
				c.deny(Devices, f, v, "%s", k)
			}
		case "network_mode":
			if scalar(v) == "host" {
				c.deny(HostNetwork, f, v, "network_mode: host")
			}
		case "pid", "ipc", "uts", "userns_mode", "cgroup":
			if scalar(v) == "host" {
				c.deny(HostPID, f, v, "%s: host (the host's namespace)", k)
			}
		case "volumes":
			for i, vol := range items(v) {
				c.mount(fmt.Sprintf("%s.%d", f, i), vol)
			}
		case "volumes_from":
			if len(items(v)) > 0 {
				c.deny(HostMounts, f, v, "volumes_from (another container's volumes)")
			}
		case "env_file":
			for _, e := range items(v) {
				c.path(f, e, pathOf(e), "env_file")
			}
			if s := scalar(v); s != "" {
				c.path(f, v, s, "env_file")
			}
		case "build":
			c.build(f, v)
		case "extends":
			if file := value(v, "file"); file != nil {
				c.path(f+".file", file, scalar(file), "extends file")
			}
		}
	}
}

// mount checks one entry of a service's volumes.
func (c *composeCheck) mount(field string, vol *yaml.Node) {
	if vol.Kind == yaml.MappingNode {
		if t := scalar(value(vol, "type")); t == "bind" {
			src := value(vol, "source")
			c.path(field, src, scalar(src), "bind mount")
		}
		return
	}
	src, _, found := strings.Cut(scalar(vol), ":")
	if found && (strings.HasPrefix(src, "/") || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~")) {
		c.path(field, vol, src, "bind mount")
	}
}

// path checks a host path the project reads or mounts.
func (c *composeCheck) path(field string, n *yaml.Node, p, what string) {
	if p == "" || strings.Contains(p, "${") && c.base == "" {
		return // interpolated: the rendered project is checked before it runs
	}
	clean := path.Clean(filepath.ToSlash(p))
	for _, sock := range dockerSockets {
		if clean == sock {
			c.deny(DockerSocket, field, n, "%s of %s (the Docker socket)", what, p)
			return
		}
		if strings.HasPrefix(sock, strings.TrimSuffix(clean, "/")+"/") {
			c.deny(DockerSocket, field, n, "%s of %s (reaches the Docker socket)", what, p)
			break
		}
	}
	if !c.inside(p) {
		c.deny(HostMounts, field, n, "%s of %s (a host path outside the project)", what, p)
	}
}

// inside reports whether p stays inside the project folder.
func (c *composeCheck) inside(p string) bool {
	if strings.HasPrefix(p, "~") {
		return false
	}
	if c.base == "" {
		return !path.IsAbs(p) && filepath.IsLocal(path.Clean(p))
	}
	if !path.IsAbs(p) {
		return filepath.IsLocal(path.Clean(p))
	}
	rel, err := filepath.Rel(c.base, p)
	return err == nil && filepath.IsLocal(rel)
}

func (c *composeCheck) build(field string, b *yaml.Node) {
	if s := scalar(b); s != "" {
		c.path(field, b, s, "build context")
		return
	}
	if ctx := value(b, "context"); ctx != nil && !strings.Contains(scalar(ctx), "://") {
		c.path(field+".context", ctx, scalar(ctx), "build context")
	}
}

func (c *composeCheck) topVolumes(vols *yaml.Node) {
	for _, name := range keys(vols) {
		opts := value(value(vols, name), "driver_opts")
		if dev := value(opts, "device"); dev != nil && strings.HasPrefix(scalar(dev), "/") {
			c.deny(HostMounts, "volumes."+name+".driver_opts.device", dev, "a volume on the host path %s", scalar(dev))
		}
	}
}

func (c *composeCheck) files(section string, defs *yaml.Node) {
	for _, name := range keys(defs) {
		if f := value(value(defs, name), "file"); f != nil {
			c.path(section+"."+name+".file", f, scalar(f), section+" file")
		}
	}
}

func (c *composeCheck) includes(inc *yaml.Node) {
	for i, it := range items(inc) {
		f := fmt.Sprintf("include.%d", i)
		if s := scalar(it); s != "" {
			c.path(f, it, s, "included file")
			continue
		}
		for _, p := range items(value(it, "path")) {
			c.path(f+".path", p, scalar(p), "included file")
		}
	}
}

// YAML node helpers: each tolerates nil and the wrong kind.

func mappingOf(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return n
}

func keys(m *yaml.Node) []string {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, m.Content[i].Value)
	}
	slices.Sort(out)
	return out
}

func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func scalars(n *yaml.Node) []string {
	var out []string
	for _, it := range items(n) {
		out = append(out, scalar(it))
	}
	return out
}

// pathOf is an env_file entry's path (a string, or {path: …}).
func pathOf(n *yaml.Node) string {
	if s := scalar(n); s != "" {
		return s
	}
	return scalar(value(n, "path"))
}
