package secrets

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"filippo.io/age"

	"github.com/berthops/berth/internal/atomicfile"
)

// Scopes.
const (
	ScopeGlobal = "global"
	ScopeApp    = "app"
	// ScopePreview is secrets/preview/NAME.age: the only shared secrets a
	// preview workload gets.
	ScopePreview = "preview"
)

// File is one shared secret file in the config repo. It holds ciphertext,
// never a value.
type File struct {
	Scope string `json:"scope"`
	App   string `json:"app,omitempty"`
	Name  string `json:"name"`
	File  string `json:"file"`
	// Sum is the SHA-256 of the ciphertext: the decrypt cache key.
	Sum  string `json:"-"`
	Data []byte `json:"-"`
}

// Describe names a secret for messages: "DB_PASSWORD (global)" or
// "API_KEY (app shop)". Never a value.
func (f File) Describe() string {
	if f.Scope == ScopeApp {
		return fmt.Sprintf("%s (app %s)", f.Name, f.App)
	}
	return fmt.Sprintf("%s (global)", f.Name)
}

// Resolver decrypts shared secrets, once per ciphertext, in memory only,
// and teaches every value to the redactor.
type Resolver struct {
	ids    []age.Identity
	idErr  error
	redact *Redactor

	mu    sync.Mutex
	cache map[string]string // ciphertext sum → value
}

// NewResolver returns a resolver with the identities (idErr explains why
// there are none, for the warnings).
func NewResolver(ids []age.Identity, idErr error, r *Redactor) *Resolver {
	return &Resolver{ids: ids, idErr: idErr, redact: r, cache: map[string]string{}}
}

// Problem is a secret that could not be used. Err never holds the value.
type Problem struct {
	File File
	Err  error
}

// Decrypt returns the values of files by ciphertext sum, and the files
// that could not be decrypted. Each ciphertext is decrypted once.
func (r *Resolver) Decrypt(files []File) (map[string]string, []Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	values := map[string]string{}
	var problems []Problem
	for _, f := range files {
		if v, ok := r.cache[f.Sum]; ok {
			values[f.Sum] = v
			continue
		}
		if len(r.ids) == 0 {
			err := r.idErr
			if err == nil {
				err = errors.New("no age identity configured (--identity)")
			}
			problems = append(problems, Problem{File: f, Err: err})
			continue
		}
		b, err := Decrypt(f.Data, r.ids)
		if err != nil {
			problems = append(problems, Problem{File: f, Err: fmt.Errorf("cannot be decrypted with the configured identities: %w", err)})
			continue
		}
		v := string(b)
		if v == "" {
			problems = append(problems, Problem{File: f, Err: errors.New("is empty")})
			continue
		}
		r.redact.Add(v)
		r.cache[f.Sum] = v
		values[f.Sum] = v
	}
	return values, problems
}

// Layer is the shared-secret env of a workload in app: global secrets,
// then the app's (an app secret wins over a global one of the same name).
func Layer(files []File, values map[string]string, app string) map[string]string {
	if app == "" {
		return scopeLayer(files, values, ScopeGlobal)
	}
	layer := map[string]string{}
	for _, scope := range []string{ScopeGlobal, ScopeApp} {
		for _, f := range files {
			if f.Scope != scope || (scope == ScopeApp && f.App != app) {
				continue
			}
			if v, ok := values[f.Sum]; ok {
				layer[f.Name] = v
			}
		}
	}
	return layer
}

// Env is a container's env, lowest precedence first: the shared layer,
// then the image's own ENV (a shared secret never overrides it: its keys
// are dropped), then the workload's env. With an empty layer the result is
// exactly the workload env, sorted: byte for byte what a workload without
// shared secrets always got.
func Env(shared map[string]string, imageEnv []string, workload map[string]string) []string {
	merged := map[string]string{}
	if len(shared) > 0 {
		fromImage := map[string]bool{}
		for _, kv := range imageEnv {
			k, _, _ := strings.Cut(kv, "=")
			fromImage[k] = true
		}
		for k, v := range shared {
			if !fromImage[k] {
				merged[k] = v
			}
		}
	}
	for k, v := range workload {
		merged[k] = v
	}
	keys := slices.Sorted(maps.Keys(merged))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+merged[k])
	}
	return out
}

// Fingerprint is an HMAC of a shared layer under the state dir's key: it
// changes when a value rotates, so the desired hash moves, yet it reveals
// nothing about the values (not even a plain hash of one).
func Fingerprint(key []byte, layer map[string]string) string {
	keys := make([]string, 0, len(layer))
	for k := range layer {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := hmac.New(sha256.New, key)
	for _, k := range keys {
		m.Write([]byte(k))
		m.Write([]byte{0})
		m.Write([]byte(layer[k]))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// LoadKey reads the state dir's HMAC key, creating it (32 random bytes,
// mode 0600) on first use.
func LoadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// PreviewLayer is a preview workload's shared layer: the preview scope
// only, never the global or app secrets production gets.
func PreviewLayer(files []File, values map[string]string) map[string]string {
	return scopeLayer(files, values, ScopePreview)
}

func scopeLayer(files []File, values map[string]string, scope string) map[string]string {
	layer := map[string]string{}
	for _, f := range files {
		if v, ok := values[f.Sum]; ok && f.Scope == scope {
			layer[f.Name] = v
		}
	}
	return layer
}
