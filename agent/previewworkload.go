package agent

import (
	"maps"
	"path/filepath"
	"strings"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
)

// previewOf is a head's workload as its preview: its own id and names
// (APP/NAME@SLUG), the preview host, the settings' placement, no fixed
// host port, and the preview secret scope only.
func (a *Agent) previewOf(base, head *gitops.Desired, w *sources.Workload, h previewHead, s *gitops.Previews, prodHosts map[string]bool) (*sources.Workload, string) {
	c := *w
	c.Preview, c.PreviewCommit = h.slug, h.sha
	c.ContentHashes = maps.Clone(w.ContentHashes)
	c.HostPort = 0 // production holds it
	if s.Placement != nil {
		c.Placement = s.Placement
	}
	if w.Route != nil {
		if s.Host == "" {
			c.Route = nil
		} else {
			host := s.HostFor(h.slug)
			if routedIn(head, w.App) > 1 {
				host = s.HostFor(h.slug + "-" + w.Name)
			}
			if prodHosts[host] {
				return nil, "refused: the preview host " + host + " is a production workload's"
			}
			r := *w.Route
			r.Hosts = []string{host}
			c.Route = &r
		}
	}
	a.secrets.previewLayer(&c, base)
	return &c, ""
}

// routedIn counts an app's workloads with a route.
func routedIn(d *gitops.Desired, app string) int {
	n := 0
	for _, w := range d.Workloads {
		if w.App == app && w.Route != nil {
			n++
		}
	}
	return n
}

// hostsOf are the hosts production workloads route (on any agent).
func hostsOf(d *gitops.Desired) map[string]bool {
	out := map[string]bool{}
	add := func(w *sources.Workload) {
		if w.Route != nil {
			for _, h := range w.Route.Hosts {
				out[strings.ToLower(h)] = true
			}
		}
	}
	for _, w := range d.Workloads {
		add(w)
	}
	for _, w := range d.Elsewhere {
		add(w)
	}
	return out
}

// previewDir holds the heads' files, one folder per slug.
func (a *Agent) previewDir() string { return filepath.Join(a.opts.StateDir, "previews") }

// firstWord is a reason's state: "refused: …" → refused.
func firstWord(s string) string {
	w, _, _ := strings.Cut(s, ":")
	return w
}

// previewLayer gives a preview workload the preview secret scope only
// (secrets/preview/*.age of the watched branch), never the global or app
// secrets production gets, and folds it into the desired hash.
func (s *sharedSecrets) previewLayer(w *sources.Workload, d *gitops.Desired) {
	delete(w.ContentHashes, gitops.SecretsContent)
	var layer map[string]string
	if len(d.Secrets) > 0 {
		values, _ := s.resolver.Decrypt(d.Secrets) // cached by ciphertext hash
		layer = secrets.PreviewLayer(d.Secrets, values)
		for name := range agentSecrets(d.Repo) {
			delete(layer, name)
		}
	}
	if len(layer) > 0 {
		s.layers[w.ID()] = layer
		w.SetContentHash(gitops.SecretsContent, secrets.Fingerprint(s.key, layer))
	} else {
		delete(s.layers, w.ID())
	}
	w.Hash = gitops.Hash(w)
}
