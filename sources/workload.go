// Package sources is what a workload file says: the Spec, the source kinds
// and their contracts, the strategy rules (strategy.go) and Berth's names.
// One sub-package per kind prepares that kind's image.
package sources

import (
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is a workload as its file declares it: every field a person can
// write, listed once. The loader decodes workload files into it, and the
// desired hash and `berth plan` are both computed from its JSON form, so a
// field added here is hashed and planned without further code (a test in
// gitops fails for a field that is not).
type Spec struct {
	// Source is decoded from the `source:` block into the config of the
	// kind its `type` names.
	Source          Config            `yaml:"-" json:"source"`
	Env             map[string]string `yaml:"env" json:"env,omitempty"`
	Port            int               `yaml:"port" json:"port,omitempty"`
	HostPort        int               `yaml:"host_port" json:"host_port,omitempty"`
	Route           *Route            `yaml:"route" json:"route,omitempty"`
	Healthcheck     *Healthcheck      `yaml:"healthcheck" json:"healthcheck,omitempty"`
	StopGracePeriod Duration          `yaml:"stop_grace_period" json:"stop_grace_period,omitempty"`
	// Volumes are named volumes: name → path in the container. Two copies
	// must not share them, so such a workload is forced to recreate.
	Volumes map[string]Volume `yaml:"volumes" json:"volumes,omitempty"`
	// BeforeDeploy is a task (a migration) run once per new desired
	// version, in the new image with the new env, before the running
	// version is touched; when it fails, nothing changes.
	BeforeDeploy *Task `yaml:"before_deploy" json:"before_deploy,omitempty"`
	// Job makes the workload a scheduled task instead of a service.
	Job *Job `yaml:"job" json:"job,omitempty"`
	// SnapshotBeforeDeploy snapshots the named volumes (with the serving
	// release's data) before a new version is deployed.
	SnapshotBeforeDeploy bool `yaml:"snapshot_before_deploy" json:"snapshot_before_deploy,omitempty"`
	// OnFailure is keep-data (the default) or restore-data: a failed
	// deploy whose new version ran gets the pre-deploy snapshot back
	// before the old version serves again.
	OnFailure string `yaml:"on_failure" json:"on_failure,omitempty"`
	// Resources are the container's limits (memory, CPUs, processes).
	Resources *Resources `yaml:"resources" json:"resources,omitempty"`
	// Replicas, Mode and Constraints shape a Swarm service (--engine
	// swarm); the docker engine runs one container.
	Replicas    int      `yaml:"replicas" json:"replicas,omitempty"`
	Mode        string   `yaml:"mode" json:"mode,omitempty"`
	Constraints []string `yaml:"constraints" json:"constraints,omitempty"`
}

// The service modes.
const (
	ModeReplicated = "replicated"
	ModeGlobal     = "global"
)

// The on_failure values.
const (
	OnFailureKeepData    = "keep-data"
	OnFailureRestoreData = "restore-data"
)

// Task is a one-off command run in a workload's image.
type Task struct {
	Command []string `yaml:"command" json:"command"`
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Service, for a compose workload, is the service whose image and
	// settings the task runs with.
	Service string `yaml:"service" json:"service,omitempty"`
}

// DefaultTaskTimeout bounds a before_deploy task that sets no timeout.
const DefaultTaskTimeout = 10 * time.Minute

// TaskTimeout is the task's timeout, or the default.
func (t *Task) TaskTimeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout.Std()
	}
	return DefaultTaskTimeout
}

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
	// Placement says which agents run it (nil: every agent). It is not
	// part of the spec: moving a workload between agents does not
	// redeploy it on the agents that keep it.
	Placement *Placement
	// Preview is the slug of the pull request or branch this workload is
	// a preview of (pr-12), "" for production.
	Preview string
	// PreviewCommit is the head commit a preview was loaded from: its
	// deploys, events and statuses name it, not the watched branch's.
	PreviewCommit string

	Spec

	// ContentHashes are hashes of what the source reads besides the spec
	// (a folder's content, an app repo's commit, the shared-secret layer's
	// HMAC), by name; commit-independent.
	ContentHashes map[string]string

	// Hash is the desired hash: it changes exactly when a redeploy is needed.
	Hash string
}

// ID is the workload id, "<app>/<name>", or "<app>/<name>@<slug>" for a
// preview.
func (w *Workload) ID() string {
	if w.Preview != "" {
		return w.App + "/" + w.Name + "@" + w.Preview
	}
	return w.App + "/" + w.Name
}

// Network is the Docker network the workload's containers join: a
// preview's own, shared by the preview's workloads of one app and no one
// else, so a preview cannot reach production's containers or another
// preview's; "" for production (Docker's default bridge).
func (w *Workload) Network() string {
	if w.Preview == "" {
		return ""
	}
	return PreviewNetwork(w.App, w.Preview)
}

// PreviewNetwork is the network of an app's preview slug.
func PreviewNetwork(app, slug string) string { return "berth-preview-" + app + "-" + slug }

// SetContentHash records what a source reads besides its spec. The caller
// recomputes Hash afterwards.
func (w *Workload) SetContentHash(name, sum string) {
	if w.ContentHashes == nil {
		w.ContentHashes = map[string]string{}
	}
	w.ContentHashes[name] = sum
}

// Route is where the proxy sends traffic for a workload.
type Route struct {
	Hosts []string `yaml:"hosts" json:"hosts"`
	// Maintenance makes the proxy answer 503 with a page instead of
	// routing to the app (which keeps running). Not hashed: turning it on
	// or off restarts nothing.
	Maintenance bool `yaml:"maintenance" json:"-"`
	// MaintenancePage is an HTML file in the repo, relative to the
	// workload file's folder (default: a plain page in the visitor's
	// language).
	MaintenancePage string `yaml:"maintenance_page" json:"-"`
	// Page is MaintenancePage's content, read by the loader.
	Page string `yaml:"-" json:"-"`
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

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("duration %s is not a string such as \"30s\"", b)
	}
	v, err := time.ParseDuration(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
