package gitops

import (
	"fmt"
	"regexp"

	"github.com/berthops/berth/sources"
)

var registryHostRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)

func validateRegistries(dec *decoder, regs []Registry) {
	seen := map[string]bool{}
	for i, r := range regs {
		field := fmt.Sprintf("registries.%d", i)
		switch {
		case !registryHostRe.MatchString(r.Host):
			dec.errorf(field+".host", dec.at(field+".host"), "%q is not a registry host such as registry.example.com or 127.0.0.1:5000", r.Host)
		case seen[r.Host]:
			dec.errorf(field+".host", dec.at(field+".host"), "%q is listed twice", r.Host)
		}
		seen[r.Host] = true
		if r.Username == "" {
			dec.errorf(field+".username", dec.at(field), "a username is required")
		}
		if !secretNameRe.MatchString(r.PasswordSecret) {
			dec.errorf(field+".password_secret", dec.at(field+".password_secret"), "%q is not a shared secret name (A-Z, 0-9, _)", r.PasswordSecret)
		}
	}
}

// mergeResources is over's limits, each unset one taken from base.
func mergeResources(base, over *sources.Resources) *sources.Resources {
	switch {
	case over == nil:
		return base
	case base == nil:
		return over
	}
	r := *over
	if r.Memory == 0 {
		r.Memory = base.Memory
	}
	if r.CPUs == 0 {
		r.CPUs = base.CPUs
	}
	if r.Pids == 0 {
		r.Pids = base.Pids
	}
	return &r
}

// constraintRe is a Swarm placement constraint: node.<attribute> ==|!= value.
var constraintRe = regexp.MustCompile(`^node\.(id|hostname|role|platform\.os|platform\.arch|labels\.[^=!\s]+|engine\.labels\.[^=!\s]+)\s*(==|!=)\s*\S.*$`)

// validateService checks the Swarm fields: replicas, mode, constraints.
func validateService(fail failFunc, w *sources.Workload) {
	if w.Replicas == 0 && w.Mode == "" && len(w.Constraints) == 0 {
		return
	}
	if w.Source != nil && w.Source.Kind().Managed() {
		fail("replicas", "is not supported for %s workloads: the compose file's deploy block says how many run", w.Source.Kind())
		return
	}
	if w.Job != nil {
		fail("replicas", "is not supported for a job: a job runs once per schedule, on one agent")
		return
	}
	switch {
	case w.Replicas < 0:
		fail("replicas", "%d is negative", w.Replicas)
	case w.Replicas > 1 && w.HostPort != 0:
		fail("replicas", "%d copies cannot hold host_port %d: remove host_port, the proxy routes to every copy", w.Replicas, w.HostPort)
	}
	switch w.Mode {
	case "", sources.ModeReplicated:
	case sources.ModeGlobal:
		if w.Replicas != 0 {
			fail("replicas", "is not used with mode: global (one task on every node that meets the constraints)")
		}
	default:
		fail("mode", "%q is not a service mode: use replicated or global", w.Mode)
	}
	for i, c := range w.Constraints {
		if !constraintRe.MatchString(c) {
			fail(fmt.Sprintf("constraints.%d", i), "%q is not a Swarm constraint such as \"node.labels.role==web\" or \"node.role!=manager\"", c)
		}
	}
}

func validateResources(fail failFunc, w *sources.Workload) {
	if w.Resources == nil {
		return
	}
	if w.Source != nil && w.Source.Kind().Managed() {
		fail("resources", "is not supported for %s workloads: set limits in the compose file (deploy.resources.limits)", w.Source.Kind())
		return
	}
	for _, e := range w.Resources.Validate("resources") {
		fail(e.Field, "%s", e.Msg)
	}
}
