// Package sources turns a workload's desired config into running containers:
// the per-kind configs, the strategy rules, the deploy engines and the Docker
// adapter they share.
package sources

import (
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind is a workload's source type.
type Kind string

// The source kinds a workload file can name in source.type.
const (
	KindImage      Kind = "image"
	KindDockerfile Kind = "dockerfile"
	KindStatic     Kind = "static"
	KindCompose    Kind = "compose"
)

// Kinds lists every source kind, in the order docs and errors show them.
var Kinds = []Kind{KindImage, KindDockerfile, KindStatic, KindCompose}

// ErrNotImplemented is returned by deploy paths of source kinds that Berth
// recognises but cannot deploy yet.
var ErrNotImplemented = errors.New("not implemented yet")

// Config is one source kind's part of a workload file (the `source:` block).
type Config interface {
	Kind() Kind
	// Strategy is the deploy_strategy the file asks for ("" when absent).
	Strategy() string
	// Validate checks the kind's own fields. Field names are relative to
	// `source.` so the loader can point at the line.
	Validate() []FieldError
}

// FieldError is a problem with one field of a workload file.
type FieldError struct {
	Field string // dotted path from the document root, e.g. "source.image"
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// Workload is one deployable unit: the decoded and validated content of
// apps/<app>/<name>.yaml plus the defaults from berth.yaml and app.yaml.
type Workload struct {
	App  string
	Name string
	// File is the workload file's path relative to the config root.
	File string
	// Dir is the workload file's folder relative to the config root; source
	// paths (contexts, site folders) resolve against it.
	Dir string

	Source          Config
	Env             map[string]string
	Port            int
	HostPort        int // pinned host port (all interfaces); 0 for an ephemeral 127.0.0.1 port
	Route           *Route
	Healthcheck     *Healthcheck
	StopGracePeriod Duration

	// Files are the repo paths the source reads (a build context, a site
	// folder, a compose file), by field, relative to the config root and
	// checked to stay inside it.
	Files map[string]string
	// ContentHashes are hashes of the content at Files (and, for an app
	// repo, its commit), by field; commit-independent.
	ContentHashes map[string]string

	// Hash is the desired hash: it changes exactly when a redeploy is needed.
	Hash string
}

// ID is the workload id, "<app>/<name>".
func (w *Workload) ID() string { return w.App + "/" + w.Name }

// Route is where the proxy sends traffic for a workload.
type Route struct {
	Hosts []string `yaml:"hosts" json:"hosts"`
}

// Healthcheck configures the HTTP readiness probe.
type Healthcheck struct {
	Path    string   `yaml:"path" json:"path"`
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// Duration is a time.Duration written as "30s" in YAML and JSON.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string such as "30s" or "1m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a duration such as \"30s\"")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\"", n.Value)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string, so hashes and API answers
// read like the YAML.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
