// Package compose is the compose and Swarm stack kinds: their source
// blocks, the files they name, and the names of their projects and stacks.
package compose

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/berthops/berth/sources"
	"gopkg.in/yaml.v3"
)

var projectRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Config is the `source:` block of a compose workload.
type Config struct {
	File           string `yaml:"file" json:"file"`
	Project        string `yaml:"project" json:"project,omitempty"`
	DeployStrategy string `yaml:"deploy_strategy" json:"deploy_strategy,omitempty"`

	file sources.Path // resolved by the loader (see Paths)
}

var _ sources.Config = (*Config)(nil)

// Kind reports sources.KindCompose.
func (c *Config) Kind() sources.Kind { return sources.KindCompose }

// Strategy is the requested deploy_strategy.
func (c *Config) Strategy() string { return c.DeployStrategy }

// Validate checks the compose file and the strategy: blue-green is rejected,
// the stack is managed by docker compose.
func (c *Config) Validate() []sources.FieldError {
	var errs []sources.FieldError
	if c.File == "" {
		errs = append(errs, sources.FieldError{Field: "source.file", Msg: "is required"})
	}
	if c.Project != "" && (!projectRe.MatchString(c.Project) || len(c.Project) > 63) {
		errs = append(errs, sources.FieldError{Field: "source.project", Msg: fmt.Sprintf("%q must be lower-case letters, digits, '_' and '-', starting with a letter or digit (it names Docker objects and a folder in the state dir)", c.Project)})
	}
	if err := sources.ValidateStrategy(c.Kind(), c.DeployStrategy); err != nil {
		errs = append(errs, sources.FieldError{Field: "source.deploy_strategy", Msg: err.Error()})
	}
	return errs
}

var (
	_ sources.PathReferrer = (*Config)(nil)
	_ sources.FileChecker  = (*Config)(nil)
)

// Paths lists the compose file, for the loader to resolve.
func (c *Config) Paths() []*sources.Path {
	if c.File == "" {
		return nil
	}
	if c.file.Field == "" {
		c.file = sources.Path{Field: "source.file", Value: c.File}
	}
	return []*sources.Path{&c.file}
}

// ResolvedFile is the compose file's path relative to the config root.
func (c *Config) ResolvedFile() string { return c.file.Resolved }

// DockerVolume is the Docker name compose gives a project's named volume.
func (c *Config) DockerVolume(w *sources.Workload, name string) string {
	return ProjectName(w, c) + "_" + name
}

// ProjectName is the compose project of a workload.
func ProjectName(w *sources.Workload, c *Config) string {
	if c.Project != "" {
		return c.Project
	}
	return "berth-" + sources.Slug(w)
}

// CheckFile parses a compose file well enough to find its services; the
// loader calls it so a file that does not parse fails validation.
func (c *Config) CheckFile(field string, data []byte) error {
	if field != "source.file" {
		return nil
	}
	return checkDoc(data)
}

// checkDoc parses a compose file well enough to know it defines
// something: services of its own, or includes (whose services the
// rendered project has).
func checkDoc(data []byte) error {
	var doc struct {
		Services map[string]yaml.Node `yaml:"services"`
		Include  []yaml.Node          `yaml:"include"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("the compose file does not parse: %w", err)
	}
	if len(doc.Services) == 0 && len(doc.Include) == 0 {
		return errors.New("the compose file has no services")
	}
	return nil
}
