package update

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Login is a registry's credentials (berth.yaml registries).
type Login struct{ Username, Password string }

// Registry asks registries for tags, digests and images' build times, at
// most once per repository (or reference) per interval, whoever asks:
// every workload using a repository shares one check. Build times are
// kept by digest, for good.
type Registry struct {
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
	// Logins by registry host.
	Logins func(host string) (Login, bool)
	// Now is the clock (tests).
	Now func() time.Time

	mu      sync.Mutex
	tags    map[string]cached[[]string]
	digests map[string]cached[string]
	created map[string]time.Time // by digest
	// Requests counts what was sent, for tests and benchmarks.
	Requests int
	tr       http.RoundTripper
}

type cached[T any] struct {
	at  time.Time
	val T
	err error
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Registry) init() {
	if r.tags == nil {
		r.tags, r.digests, r.created = map[string]cached[[]string]{}, map[string]cached[string]{}, map[string]time.Time{}
		timeout := r.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		r.tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
		}
		r.Timeout = timeout
	}
}

// View binds a check to ctx and an interval: answers younger than every
// are reused.
func (r *Registry) View(ctx context.Context, every time.Duration) Lister {
	return view{r: r, ctx: ctx, every: every}
}

type view struct {
	r     *Registry
	ctx   context.Context
	every time.Duration
}

func (r *Registry) options(ctx context.Context, reg name.Registry) []remote.Option {
	auth := authn.Anonymous
	if r.Logins != nil {
		if l, ok := r.Logins(reg.RegistryStr()); ok {
			auth = authn.FromConfig(authn.AuthConfig{Username: l.Username, Password: l.Password})
		}
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(r.tr)}
}

func (v view) Tags(repo string) ([]string, error) {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	if c, ok := r.tags[repo]; ok && r.now().Sub(c.at) < v.every {
		return c.val, c.err
	}
	rp, err := name.NewRepository(repo)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(v.ctx, 2*r.Timeout)
	defer cancel()
	r.Requests++
	tags, err := remote.List(rp, r.options(ctx, rp.Registry)...)
	if err != nil {
		err = fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	r.tags[repo] = cached[[]string]{at: r.now(), val: tags, err: err}
	return tags, err
}

func (v view) Digest(ref string) (string, error) {
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	if c, ok := r.digests[ref]; ok && r.now().Sub(c.at) < v.every {
		return c.val, c.err
	}
	d, err := r.head(v.ctx, ref)
	r.digests[ref] = cached[string]{at: r.now(), val: d, err: err}
	return d, err
}

// head is a reference's manifest digest (the caller holds mu).
func (r *Registry) head(ctx context.Context, ref string) (string, error) {
	nr, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	r.Requests++
	desc, err := remote.Head(nr, r.options(ctx, nr.Context().Registry)...)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

func (v view) Created(ref string) (time.Time, error) {
	d, err := v.Digest(ref)
	if err != nil {
		return time.Time{}, err
	}
	r := v.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := r.created[d]; ok {
		return at, nil
	}
	nr, err := name.ParseReference(ref)
	if err != nil {
		return time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(v.ctx, 2*r.Timeout)
	defer cancel()
	r.Requests += 2
	img, err := remote.Image(nr.Context().Digest(d), r.options(ctx, nr.Context().Registry)...)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	r.created[d] = cf.Created.Time
	return cf.Created.Time, nil
}
