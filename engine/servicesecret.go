package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
	"github.com/docker/docker/api/types/swarm"
)

// SecretDir is where a service's shared secrets are mounted, one file
// per name, under --engine swarm (Swarm keeps them in its encrypted Raft
// store and in memory on the nodes, never in plain text on disk).
const SecretDir = "/run/secrets/"

// secretAPI is the Swarm secrets side of Docker.
type secretAPI interface {
	EnsureSecret(ctx context.Context, name string, labels map[string]string, value []byte) (string, error)
	RemoveSecrets(ctx context.Context, workload string, keep map[string]bool) error
}

// maxSecretName is Swarm's limit on an object name.
const maxSecretName = 64

// secretName names a workload's secret for one desired version:
// "berth-<app>_<name>_<hash12>_<KEY>" (its stack prefix, for the policy;
// the hash, because a Swarm secret cannot change). A long key is shortened
// to a digest of its name.
func secretName(w *sources.Workload, key string) (string, error) {
	prefix := sources.ContainerName(w) + "_" + w.Hash[:min(12, len(w.Hash))] + "_"
	name := prefix + key
	if len(name) > maxSecretName {
		sum := sha256.Sum256([]byte(key))
		name = prefix + hex.EncodeToString(sum[:6])
	}
	if len(name) > maxSecretName {
		return "", fmt.Errorf("the workload id %s is too long to name its Swarm secrets (at most %d characters in all)", w.ID(), maxSecretName)
	}
	return name, nil
}

// serviceSecrets creates the deployment's secret files as Swarm secrets
// and returns their references (mounted at SecretDir/<KEY>).
func (e *Engine) serviceSecrets(ctx context.Context, d Deployment) ([]*swarm.SecretReference, error) {
	if len(d.Files) == 0 {
		return nil, nil
	}
	api, ok := e.opts.Services.API.(secretAPI)
	if !ok {
		return nil, fmt.Errorf("this Docker client cannot create Swarm secrets")
	}
	labels := map[string]string{docker.LabelAgent: e.agent, docker.LabelWorkload: d.Workload.ID()}
	var refs []*swarm.SecretReference
	for _, key := range slices.Sorted(maps.Keys(d.Files)) {
		name, err := secretName(d.Workload, key)
		if err != nil {
			return nil, err
		}
		id, err := api.EnsureSecret(ctx, name, labels, []byte(d.Files[key]))
		if err != nil {
			return nil, err
		}
		refs = append(refs, &swarm.SecretReference{SecretID: id, SecretName: name,
			File: &swarm.SecretReferenceFileTarget{Name: key, UID: "0", GID: "0", Mode: 0o444}})
	}
	return refs, nil
}

// pruneSecrets removes a workload's secrets that neither its new spec
// nor the one Swarm would roll back to uses.
func (e *Engine) pruneSecrets(ctx context.Context, w *sources.Workload, specs ...swarm.ServiceSpec) {
	api, ok := e.opts.Services.API.(secretAPI)
	if !ok {
		return
	}
	keep := map[string]bool{}
	for _, s := range specs {
		if cs := s.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Secrets {
				keep[r.SecretName] = true
			}
		}
	}
	if err := api.RemoveSecrets(ctx, w.ID(), keep); err != nil {
		e.log.Warn("removing unused Swarm secrets failed", "workload", w.ID(), "error", err)
	}
}
