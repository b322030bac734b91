// Package dockerfile deploys workloads built from a Dockerfile in the config
// repo or in an app repo.
package dockerfile

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/berthops/berth/sources"
)

// GitSource is an app repo outside the config repo.
type GitSource struct {
	URL string `yaml:"url" json:"url"`
	Ref string `yaml:"ref" json:"ref,omitempty"`
}

// Config is the `source:` block of a dockerfile workload.
type Config struct {
	Context        string            `yaml:"context" json:"context,omitempty"`
	Dockerfile     string            `yaml:"dockerfile" json:"dockerfile,omitempty"`
	BuildArgs      map[string]string `yaml:"build_args" json:"build_args,omitempty"`
	Target         string            `yaml:"target" json:"target,omitempty"`
	Git            *GitSource        `yaml:"git" json:"git,omitempty"`
	DeployStrategy string            `yaml:"deploy_strategy" json:"deploy_strategy,omitempty"`
	// Update follows new base images (the final stage's FROM, or
	// Update.Stage's) by committing them; not hashed.
	Update *sources.UpdatePolicy `yaml:"update" json:"-"`

	// Resolved by the loader (see Paths).
	context, dockerfile sources.Path
}

var _ sources.Config = (*Config)(nil)

// Kind reports sources.KindDockerfile.
func (c *Config) Kind() sources.Kind { return sources.KindDockerfile }

// Strategy is the requested deploy_strategy.
func (c *Config) Strategy() string { return c.DeployStrategy }

// Validate checks the build source and the strategy.
func (c *Config) Validate() []sources.FieldError {
	var errs []sources.FieldError
	switch {
	case c.Context != "" && c.Git != nil:
		errs = append(errs, sources.FieldError{Field: "source.git", Msg: "set either context or git, not both"})
	case c.Context == "" && c.Git == nil:
		errs = append(errs, sources.FieldError{Field: "source.context", Msg: "is required: a folder in the config repo (or set git: {url, ref})"})
	case c.Git != nil && c.Git.URL == "":
		errs = append(errs, sources.FieldError{Field: "source.git.url", Msg: "is required"})
	}
	if c.Dockerfile != "" && (path.IsAbs(c.Dockerfile) || !filepath.IsLocal(c.Dockerfile)) {
		errs = append(errs, sources.FieldError{Field: "source.dockerfile", Msg: fmt.Sprintf("%q must be a path inside the context", c.Dockerfile)})
	}
	if err := sources.ValidateStrategy(c.Kind(), c.DeployStrategy); err != nil {
		errs = append(errs, sources.FieldError{Field: "source.deploy_strategy", Msg: err.Error()})
	}
	if c.Update != nil && c.Git != nil {
		errs = append(errs, sources.FieldError{Field: "source.update", Msg: "follows the base image of a Dockerfile in the config repo; an app repo's Dockerfile is its own repo's"})
	}
	errs = append(errs, c.Update.Validate(true)...)
	return errs
}

// UpdatePolicy is source.update, nil when absent.
func (c *Config) UpdatePolicy() *sources.UpdatePolicy { return c.Update }

var _ sources.PathReferrer = (*Config)(nil)

// Paths lists the context folder and the Dockerfile in it, for the loader
// to resolve; an app repo build names no config repo paths.
func (c *Config) Paths() []*sources.Path {
	if c.Context == "" {
		return nil
	}
	if c.context.Field == "" {
		c.context = sources.Path{Field: "source.context", Value: c.Context}
		c.dockerfile = sources.Path{Field: "source.dockerfile", Value: path.Join(c.Context, c.DockerfileName())}
	}
	return []*sources.Path{&c.context, &c.dockerfile}
}

// AppRepo is the app repo the workload builds from, nil for a context in
// the config repo.
func (c *Config) AppRepo() *GitSource { return c.Git }

// DockerfileName is the Dockerfile's path inside the context.
func (c *Config) DockerfileName() string {
	if c.Dockerfile == "" {
		return "Dockerfile"
	}
	return c.Dockerfile
}

// GitRef is the app repo branch to build; default "main".
func (c *Config) GitRef() string {
	if c.Git == nil || c.Git.Ref == "" {
		return "main"
	}
	return c.Git.Ref
}
