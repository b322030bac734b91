package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/update"
)

// SharedSecret is what the API says of a shared secret: never its value.
type SharedSecret struct {
	Scope    string `json:"scope"`
	App      string `json:"app,omitempty"`
	Name     string `json:"name"`
	File     string `json:"file"`
	HasValue bool   `json:"has_value"`
}

// sharedSecrets holds each workload's shared-secret layer, in memory only.
// It is replaced when a commit is loaded, before any deploy reads it.
type sharedSecrets struct {
	resolver *secrets.Resolver
	key      []byte // keys the HMAC of each layer

	layers   map[string]map[string]string // by workload id
	global   map[string]string            // the global secrets (notification URLs)
	failures map[string]string            // workloads failed by secrets.on_error: fail
	holds    map[string]string            // workloads with a secret that cannot be used: why
	view     atomic.Pointer[[]SharedSecret]
}

// secretWarning is a secret that cannot be used, for the reporter.
type secretWarning struct {
	msg  string
	meta map[string]string
}

// apply decrypts the shared secrets of a newly loaded config (each
// ciphertext once: the resolver caches by its hash), keeps each workload's
// layer, and folds an HMAC of the layer into the desired hash, so rotating
// a secret redeploys exactly the workloads that get it. A secret that
// cannot be used is a warning; with `secrets.on_error: fail` it fails the
// workloads in its scope instead.
func (s *sharedSecrets) apply(d *gitops.Desired) []secretWarning {
	s.layers, s.failures, s.holds, s.global = map[string]map[string]string{}, map[string]string{}, map[string]string{}, nil
	var warns []secretWarning
	for _, err := range d.SecretErrors {
		warns = append(warns, secretWarning{msg: err.Error()})
	}
	values, problems := s.resolver.Decrypt(d.Secrets)
	view := make([]SharedSecret, 0, len(d.Secrets))
	for _, f := range d.Secrets {
		_, ok := values[f.Sum]
		view = append(view, SharedSecret{Scope: f.Scope, App: f.App, Name: f.Name, File: f.File, HasValue: ok})
	}
	s.view.Store(&view)
	if len(d.Secrets) == 0 {
		return warns
	}
	s.global = secrets.Layer(d.Secrets, values, "") // app names are never empty: globals only
	badGlobal, badApp := "", map[string]string{}
	for _, p := range problems {
		warns = append(warns, secretWarning{
			msg:  fmt.Sprintf("shared secret %s in %s is not used: %v", p.File.Describe(), p.File.File, p.Err),
			meta: map[string]string{"secret": p.File.Name, "scope": p.File.Scope, "app": p.File.App},
		})
		if p.File.Scope == secrets.ScopeGlobal {
			badGlobal = p.File.Describe()
		} else {
			badApp[p.File.App] = p.File.Describe()
		}
	}
	failOnError := d.Repo.Secrets.OnError == "fail"
	agentOnly := agentSecrets(d.Repo)
	for _, w := range d.Workloads {
		layer := secrets.Layer(d.Secrets, values, w.App)
		for name := range agentOnly {
			delete(layer, name)
		}
		if len(layer) > 0 {
			s.layers[w.ID()] = layer
			w.SetContentHash(gitops.SecretsContent, secrets.Fingerprint(s.key, layer))
			w.Hash = gitops.Hash(w)
		}
		bad := firstNonEmpty(badApp[w.App], badGlobal)
		switch {
		case bad != "" && failOnError:
			s.failures[w.ID()] = "shared secret " + bad + " could not be used (secrets.on_error: fail)"
		case bad != "":
			s.holds[w.ID()] = "shared secret " + bad + " cannot be used"
		}
	}
	return warns
}

// agentSecrets are the global shared secrets berth.yaml names for the
// agent's own use — registry passwords, notification URLs, the backup
// target's credentials. They never reach a container: an app that could
// read the backup credentials could delete its own backups.
func agentSecrets(rc gitops.RepoConfig) map[string]bool {
	out := map[string]bool{}
	for _, r := range rc.Registries {
		out[r.PasswordSecret] = true
	}
	for _, n := range rc.Notifications {
		if n.URLSecret != "" {
			out[n.URLSecret] = true
		}
	}
	if rc.Backups.S3Secret != "" {
		out[rc.Backups.S3Secret] = true
	}
	return out
}

// env is a container's env: the workload's shared layer below the image's
// own ENV, the workload env on top. Without shared secrets it is exactly
// the workload env.
func (s *sharedSecrets) env(w *sources.Workload, imageEnv []string) []string {
	return secrets.Env(s.layers[w.ID()], imageEnv, w.Env)
}

// files is a Swarm service's env and secret files (--engine swarm): the
// shared secrets that would reach the env are delivered as files
// (engine.SecretDir/<KEY>) instead, each named in the env as KEY_FILE,
// so no node writes their values to disk; the image's ENV and the
// workload env stay as they are.
func (s *sharedSecrets) files(w *sources.Workload, imageEnv []string) ([]string, map[string]string) {
	fromImage := map[string]bool{}
	for _, kv := range imageEnv {
		k, _, _ := strings.Cut(kv, "=")
		fromImage[k] = true
	}
	files := map[string]string{}
	pointers := map[string]string{}
	for k, v := range s.layers[w.ID()] {
		if _, own := w.Env[k]; !own && !fromImage[k] {
			files[k] = v
			pointers[k+"_FILE"] = engine.SecretDir + k
		}
	}
	maps.Copy(pointers, w.Env) // the workload's own env wins
	return secrets.Env(nil, imageEnv, pointers), files
}

// failure is why on_error: fail stops the workload, "" when it does not.
func (s *sharedSecrets) failure(id string) string { return s.failures[id] }

// held are the workloads whose shared-secret layer is incomplete: one
// already running keeps the layer it was deployed with (it is not
// redeployed without the secret); one never deployed deploys without it.
func (s *sharedSecrets) held() map[string]string { return s.holds }

// list is what GET /api/shared-secrets answers.
func (s *sharedSecrets) list() []SharedSecret {
	if v := s.view.Load(); v != nil {
		return *v
	}
	return []SharedSecret{}
}

// registryUser is a Docker that logs in to private registries.
type registryUser interface {
	SetRegistries(creds []docker.Credential)
}

// registries hands berth.yaml's registry logins, their passwords from the
// global shared secrets, to Docker for pulls and builds. It returns the
// logins that cannot be used, for warnings.
func (a *Agent) registries(list []gitops.Registry) []string {
	ru, ok := a.docker.(registryUser)
	if !ok {
		return nil
	}
	var creds []docker.Credential
	var problems []string
	sum := sha256.New()
	logins := map[string]update.Login{}
	defer func() {
		a.loginsMu.Lock()
		a.logins = logins
		a.loginsMu.Unlock()
	}()
	for i, r := range list {
		pw, ok := a.secrets.global[r.PasswordSecret]
		if !ok {
			problems = append(problems, fmt.Sprintf("registries.%d: shared secret %s has no value on this agent; pulls from %s go without a login", i, r.PasswordSecret, r.Host))
			continue
		}
		logins[r.Host] = update.Login{Username: r.Username, Password: pw}
		creds = append(creds, docker.Credential{Host: r.Host, Username: r.Username, Password: pw})
		pwSum := sha256.Sum256([]byte(pw))
		fmt.Fprintf(sum, "%s\x00%s\x00%x\x00", r.Host, r.Username, pwSum)
	}
	ru.SetRegistries(creds)
	if s := hex.EncodeToString(sum.Sum(nil)); len(creds) > 0 && s != a.loginSum || len(creds) == 0 && a.loginSum != "" {
		// New logins: a deploy that failed to pull is tried again now,
		// not after its backoff.
		a.loginSum, a.retryNow = s, true
		if len(creds) == 0 {
			a.loginSum = ""
		}
	}
	return problems
}
