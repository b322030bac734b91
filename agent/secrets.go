package agent

import (
	"context"
	"fmt"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
)

// KindSecretUnusable is the warning written when a shared secret cannot be
// used: it names the secret and its scope, never a value.
const KindSecretUnusable = "secret.unusable"

// applySecrets decrypts the shared secrets of a newly loaded commit (each
// ciphertext once: the resolver caches by its hash), keeps each workload's
// shared layer in memory, and folds an HMAC of the layer into the desired
// hash, so rotating a secret redeploys exactly the workloads that get it.
// A secret that cannot be used is a warning; with `secrets.on_error: fail`
// it fails the workloads in its scope instead.
func (a *Agent) applySecrets(ctx context.Context, d *gitops.Desired, commit string) {
	a.layers = map[string]map[string]string{}
	a.secretFail = map[string]string{}
	for _, err := range d.SecretErrors {
		a.events.add(ctx, store.Event{Kind: KindSecretUnusable, Severity: store.SeverityWarn, Commit: commit, Message: err.Error()})
	}
	values, problems := a.resolver.Decrypt(d.Secrets)
	view := make([]SharedSecret, 0, len(d.Secrets))
	for _, s := range d.Secrets {
		_, ok := values[s.Sum]
		view = append(view, SharedSecret{Scope: s.Scope, App: s.App, Name: s.Name, File: s.File, HasValue: ok})
	}
	a.secretsView.Store(&view)
	if len(d.Secrets) == 0 {
		return
	}
	badGlobal, badApp := "", map[string]string{}
	for _, p := range problems {
		msg := fmt.Sprintf("shared secret %s in %s is not used: %v", p.File.Describe(), p.File.File, p.Err)
		a.log.Warn("shared secret not used", "secret", p.File.Name, "scope", p.File.Scope, "app", p.File.App, "error", p.Err)
		a.events.add(ctx, store.Event{Kind: KindSecretUnusable, Severity: store.SeverityWarn, Commit: commit, Message: msg,
			Metadata: map[string]string{"secret": p.File.Name, "scope": p.File.Scope, "app": p.File.App}})
		if p.File.Scope == secrets.ScopeGlobal {
			badGlobal = p.File.Describe()
		} else {
			badApp[p.File.App] = p.File.Describe()
		}
	}
	failOnError := d.Repo.Secrets.OnError == "fail"
	for _, w := range d.Workloads {
		layer := secrets.Layer(d.Secrets, values, w.App)
		if len(layer) > 0 {
			a.layers[w.ID()] = layer
			if w.ContentHashes == nil {
				w.ContentHashes = map[string]string{}
			}
			w.ContentHashes["shared_secrets"] = secrets.Fingerprint(a.opts.SecretKey, layer)
			w.Hash = gitops.Hash(w)
		}
		if !failOnError {
			continue
		}
		if bad := firstNonEmpty(badApp[w.App], badGlobal); bad != "" {
			a.secretFail[w.ID()] = "shared secret " + bad + " could not be used (secrets.on_error: fail)"
		}
	}
}

// SharedSecret is what the API says of a shared secret: never its value.
type SharedSecret struct {
	Scope    string `json:"scope"`
	App      string `json:"app,omitempty"`
	Name     string `json:"name"`
	File     string `json:"file"`
	HasValue bool   `json:"has_value"`
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
