package docker

import (
	"encoding/base64"
	"encoding/json"
	"sort"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/registry"
)

// Credential is a login for one registry host. The password comes from a
// shared secret and lives in memory only.
type Credential struct {
	Host, Username, Password string
}

// SetRegistries replaces the logins pulls and builds use (berth.yaml
// registries, resolved on each config load).
func (d *Client) SetRegistries(creds []Credential) {
	m := make(map[string]Credential, len(creds))
	for _, c := range creds {
		m[c.Host] = c
	}
	d.registries.Store(&m)
}

// registryAuth is the X-Registry-Auth value for ref's registry, or "".
func (d *Client) registryAuth(ref string) string {
	m := d.registries.Load()
	if m == nil {
		return ""
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	c, ok := (*m)[reference.Domain(named)]
	if !ok {
		return ""
	}
	b, err := json.Marshal(registry.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: c.Host})
	if err != nil {
		return ""
	}
	return base64.URLEncoding.EncodeToString(b)
}

// buildAuths are the logins a build may use for its base images.
func (d *Client) buildAuths() map[string]registry.AuthConfig {
	m := d.registries.Load()
	if m == nil || len(*m) == 0 {
		return nil
	}
	hosts := make([]string, 0, len(*m))
	for h := range *m {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	out := make(map[string]registry.AuthConfig, len(hosts))
	for _, h := range hosts {
		c := (*m)[h]
		out[h] = registry.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: h}
		if h == "docker.io" { // the key Docker looks Docker Hub up by
			out[dockerHubAuthKey] = registry.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: dockerHubAuthKey}
		}
	}
	return out
}

// dockerHubAuthKey is the key Docker looks Docker Hub's login up by.
const dockerHubAuthKey = "https://index.docker.io/v1/"
