package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/docker/docker/api"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"
)

// ServiceCheck judges the service specs a stack deploy is about to send
// to Swarm (by the stack's own service name), before any is sent.
type ServiceCheck func(specs map[string]swarm.ServiceSpec) error

// ErrServicesRefused wraps a ServiceCheck's refusal: nothing of the
// stack's services changed.
var ErrServicesRefused = errors.New("the stack's services were refused")

// DeployStack deploys a rendered stack document as `docker stack deploy
// --prune` would, in process: the docker CLI's own loader and converter
// turn doc into the service specs, check judges exactly those specs, and
// those specs are what Swarm gets (with the registry credentials Berth
// holds). dir is the release folder that secret and config files are
// read from. Secrets and configs are created first (services refer to
// them by id); networks and services only once check passed.
func (d *Client) DeployStack(ctx context.Context, stack, dir string, doc []byte, check ServiceCheck) error {
	cfg, err := loadStack(dir, doc)
	if err != nil {
		return err
	}
	ns := convert.NewNamespace(stack)
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if err := d.stackObjects(ctx, ns, cfg); err != nil {
		return err
	}
	specs, err := convert.Services(ctx, ns, cfg, d.cli)
	if err != nil {
		return fmt.Errorf("converting the stack's services: %w", err)
	}
	if err := check(specs); err != nil {
		return fmt.Errorf("%w: %w", ErrServicesRefused, err)
	}
	if err := d.stackNetworks(ctx, ns, cfg); err != nil {
		return err
	}
	return d.stackServices(ctx, ns, specs)
}

// loadStack reads a rendered stack document with the docker CLI's loader,
// with no variables at all: the document is already interpolated (its
// "$$" stay "$").
func loadStack(dir string, doc []byte) (*composetypes.Config, error) {
	dict, err := loader.ParseYAML(doc)
	if err != nil {
		return nil, fmt.Errorf("reading the rendered stack: %w", err)
	}
	cfg, err := loader.Load(composetypes.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []composetypes.ConfigFile{{Filename: "stack.yml", Config: dict}},
		Environment: map[string]string{},
	})
	if err != nil {
		return nil, fmt.Errorf("loading the rendered stack: %w", err)
	}
	return cfg, nil
}

// stackObjects creates or updates the stack's secrets and configs.
func (d *Client) stackObjects(ctx context.Context, ns convert.Namespace, cfg *composetypes.Config) error {
	secrets, err := convert.Secrets(ns, cfg.Secrets)
	if err != nil {
		return fmt.Errorf("the stack's secrets: %w", err)
	}
	for _, s := range secrets {
		old, _, err := d.cli.SecretInspectWithRaw(ctx, s.Name)
		switch {
		case err == nil:
			if err := d.cli.SecretUpdate(ctx, old.ID, old.Meta.Version, s); err != nil {
				return fmt.Errorf("updating secret %s: %w", s.Name, err)
			}
		case errdefs.IsNotFound(err):
			if _, err := d.cli.SecretCreate(ctx, s); err != nil {
				return fmt.Errorf("creating secret %s: %w", s.Name, err)
			}
		default:
			return fmt.Errorf("secret %s: %w", s.Name, err)
		}
	}
	configs, err := convert.Configs(ns, cfg.Configs)
	if err != nil {
		return fmt.Errorf("the stack's configs: %w", err)
	}
	for _, c := range configs {
		old, _, err := d.cli.ConfigInspectWithRaw(ctx, c.Name)
		switch {
		case err == nil:
			if err := d.cli.ConfigUpdate(ctx, old.ID, old.Meta.Version, c); err != nil {
				return fmt.Errorf("updating config %s: %w", c.Name, err)
			}
		case errdefs.IsNotFound(err):
			if _, err := d.cli.ConfigCreate(ctx, c); err != nil {
				return fmt.Errorf("creating config %s: %w", c.Name, err)
			}
		default:
			return fmt.Errorf("config %s: %w", c.Name, err)
		}
	}
	return nil
}

// stackNetworks creates the stack's own networks that are missing and
// checks that its external ones exist.
func (d *Client) stackNetworks(ctx context.Context, ns convert.Namespace, cfg *composetypes.Config) error {
	used := map[string]struct{}{}
	for _, s := range cfg.Services {
		if len(s.Networks) == 0 {
			used["default"] = struct{}{}
		}
		for n := range s.Networks {
			used[n] = struct{}{}
		}
	}
	wanted, external := convert.Networks(ns, cfg.Networks, used)
	for _, n := range external {
		if _, err := d.cli.NetworkInspect(ctx, n, network.InspectOptions{}); err != nil {
			return fmt.Errorf("the external network %s: %w", n, err)
		}
	}
	have, err := d.cli.NetworkList(ctx, network.ListOptions{Filters: stackFilter(ns)})
	if err != nil {
		return fmt.Errorf("listing the stack's networks: %w", err)
	}
	exists := map[string]bool{}
	for _, n := range have {
		exists[n.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(wanted)) { // full names
		if exists[name] {
			continue
		}
		opts := wanted[name]
		if opts.Driver == "" {
			opts.Driver = "overlay"
		}
		if _, err := d.cli.NetworkCreate(ctx, name, opts); err != nil {
			return fmt.Errorf("creating network %s: %w", name, err)
		}
	}
	return nil
}

// stackServices sends the checked specs: an update for a service that
// exists, a create otherwise; then removes the stack's services the
// document no longer has (--prune).
func (d *Client) stackServices(ctx context.Context, ns convert.Namespace, specs map[string]swarm.ServiceSpec) error {
	existing, err := d.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: stackFilter(ns)})
	if err != nil {
		return fmt.Errorf("listing the stack's services: %w", err)
	}
	byName := map[string]swarm.Service{}
	for _, s := range existing {
		byName[s.Spec.Name] = s
	}
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		spec := specs[name]
		image := spec.TaskTemplate.ContainerSpec.Image
		auth := d.registryAuth(image)
		old, ok := byName[ns.Scope(name)]
		if !ok {
			if _, err := d.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{EncodedRegistryAuth: auth, QueryRegistry: true}); err != nil {
				return fmt.Errorf("creating service %s: %w", ns.Scope(name), err)
			}
			continue
		}
		opts := swarm.ServiceUpdateOptions{EncodedRegistryAuth: auth}
		if image == old.Spec.Labels[convert.LabelImage] {
			// The image did not change: keep the digest Swarm pinned at
			// the last deploy, or every deploy would update the service.
			spec.TaskTemplate.ContainerSpec.Image = old.Spec.TaskTemplate.ContainerSpec.Image
		} else {
			opts.QueryRegistry = true
		}
		spec.TaskTemplate.ForceUpdate = old.Spec.TaskTemplate.ForceUpdate
		if _, err := d.cli.ServiceUpdate(ctx, old.ID, old.Version, spec, opts); err != nil {
			return fmt.Errorf("updating service %s: %w", ns.Scope(name), err)
		}
	}
	for _, s := range existing {
		if _, keep := specs[ns.Descope(s.Spec.Name)]; keep {
			continue
		}
		if err := d.cli.ServiceRemove(ctx, s.ID); err != nil {
			return fmt.Errorf("removing service %s: %w", s.Spec.Name, err)
		}
	}
	return nil
}

func stackFilter(ns convert.Namespace) filters.Args {
	return filters.NewArgs(filters.Arg("label", convert.LabelNamespace+"="+ns.Name()))
}

// StackSpecs converts a rendered stack document to the service specs
// DeployStack would send, without a daemon: the same loader and
// converter, minus the references to Swarm secrets and configs (whose
// ids only the daemon knows; the policy does not judge them).
func StackSpecs(stack, dir string, doc []byte) (map[string]swarm.ServiceSpec, error) {
	cfg, err := loadStack(dir, doc)
	if err != nil {
		return nil, err
	}
	ns := convert.NewNamespace(stack)
	specs := map[string]swarm.ServiceSpec{}
	for _, s := range cfg.Services {
		spec, err := convert.Service(api.DefaultVersion, ns, s, cfg.Networks, cfg.Volumes, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("converting service %s: %w", s.Name, err)
		}
		specs[s.Name] = spec
	}
	return specs, nil
}
