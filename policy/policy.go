// Package policy is what a commit to the config repo may ask of the host:
// the operator grants permissions with --allow; the repo cannot. Whoever
// can merge into the config repo deploys, so without a permission a
// compose file that asks for privileged mode, the host's network, a bind
// mount of the host, the Docker socket, devices or capabilities, or a
// dockerfile workload that builds from a repo on the host, is refused.
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Permission is one thing the operator may allow.
type Permission string

// The permissions.
const (
	Privileged   Permission = "privileged"    // privileged: true, unconfined seccomp/apparmor
	HostMounts   Permission = "host-mounts"   // bind mounts (and other reads) of host paths
	HostNetwork  Permission = "host-network"  // network_mode: host
	HostPID      Permission = "host-pid"      // pid/ipc/uts/userns/cgroup: host
	Devices      Permission = "devices"       // devices, device_cgroup_rules, gpus
	CapAdd       Permission = "cap-add"       // cap_add
	DockerSocket Permission = "docker-socket" // a mount that reaches the Docker socket
	LocalRepos   Permission = "local-repos"   // app repos from file:// URLs or host paths
	// SharedVolumes lets a workload mount an external volume (another
	// workload's, or one made outside Berth).
	SharedVolumes Permission = "shared-volumes"
	// SharedNetworks lets a workload join an external network or link to
	// containers outside its project.
	SharedNetworks Permission = "shared-networks"
	// Providers lets a compose service or model be run by a provider, a
	// program on the host.
	Providers Permission = "providers"
	// PrivateNotify lets notifications reach loopback, private and
	// link-local addresses (services only the host can reach).
	PrivateNotify Permission = "private-notify"
	// ForkPreviews lets a pull request from a fork run as a preview: its
	// author is not someone who can push to the config repo.
	ForkPreviews Permission = "fork-previews"
)

// All lists every permission, in the order help shows them.
var All = []Permission{Privileged, HostMounts, HostNetwork, HostPID, Devices, CapAdd, DockerSocket, LocalRepos, SharedVolumes, SharedNetworks, Providers, PrivateNotify, ForkPreviews}

// Policy is the set of permissions the operator granted.
type Policy map[Permission]bool

// Parse reads a comma-separated --allow list ("" grants nothing).
func Parse(list string) (Policy, error) {
	p := Policy{}
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if !slices.Contains(All, Permission(w)) {
			return nil, fmt.Errorf("--allow %q: %q is not one of %s", list, w, Words())
		}
		p[Permission(w)] = true
	}
	return p, nil
}

// Words lists the permission words, comma-separated.
func Words() string {
	s := make([]string, len(All))
	for i, p := range All {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// Allows reports whether the operator granted perm.
func (p Policy) Allows(perm Permission) bool { return p[perm] }

// Violation is something a config asks for that the policy does not
// allow. Line and Col point into the file it was found in (0 when the
// document was rendered).
type Violation struct {
	Permission Permission
	Field      string // e.g. services.web.volumes.0
	Detail     string // what it asks for, e.g. "bind mount of /"
	Line, Col  int
}

func (v Violation) Error() string {
	return fmt.Sprintf("%s: %s needs --allow %s (the operator's decision, not the repo's)", v.Field, v.Detail, v.Permission)
}

// ErrNotAllowed: a workload asks the host for what --allow does not grant.
var ErrNotAllowed = errors.New("not allowed by the operator's policy")

// Refusal is the error of a check that found violations (wrapping
// ErrNotAllowed, each violation named), nil when it found none.
func Refusal(vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.Error()
	}
	return fmt.Errorf("%w: %s", ErrNotAllowed, strings.Join(msgs, "; "))
}
