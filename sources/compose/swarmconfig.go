package compose

import (
	"fmt"

	"github.com/berthops/berth/sources"
)

// SwarmConfig is the `source:` block of a stack workload: a compose file
// deployed to Docker Swarm with `docker stack deploy`.
type SwarmConfig struct {
	File           string `yaml:"file" json:"file"`
	Stack          string `yaml:"stack" json:"stack,omitempty" jsonschema:"description=the Swarm stack name (default berth-<app>_<name>)"`
	DeployStrategy string `yaml:"deploy_strategy" json:"deploy_strategy,omitempty"`

	file sources.Path
}

var (
	_ sources.Config       = (*SwarmConfig)(nil)
	_ sources.PathReferrer = (*SwarmConfig)(nil)
	_ sources.FileChecker  = (*SwarmConfig)(nil)
)

// Kind reports sources.KindStack.
func (c *SwarmConfig) Kind() sources.Kind { return sources.KindStack }

// Strategy is the requested deploy_strategy (only "" is valid: Swarm
// rolls services out itself).
func (c *SwarmConfig) Strategy() string { return c.DeployStrategy }

// Validate checks the file, the stack name and the strategy.
func (c *SwarmConfig) Validate() []sources.FieldError {
	var errs []sources.FieldError
	if c.File == "" {
		errs = append(errs, sources.FieldError{Field: "source.file", Msg: "is required"})
	}
	if c.Stack != "" && (!projectRe.MatchString(c.Stack) || len(c.Stack) > 40) {
		errs = append(errs, sources.FieldError{Field: "source.stack", Msg: fmt.Sprintf("%q must be at most 40 lower-case letters, digits, '_' and '-', starting with a letter or digit (it prefixes the stack's service names)", c.Stack)})
	}
	if err := sources.ValidateStrategy(c.Kind(), c.DeployStrategy); err != nil {
		errs = append(errs, sources.FieldError{Field: "source.deploy_strategy", Msg: err.Error()})
	}
	return errs
}

// Paths lists the compose file, for the loader to resolve.
func (c *SwarmConfig) Paths() []*sources.Path {
	if c.File == "" {
		return nil
	}
	if c.file.Field == "" {
		c.file = sources.Path{Field: "source.file", Value: c.File}
	}
	return []*sources.Path{&c.file}
}

// ResolvedFile is the compose file's path relative to the config root.
func (c *SwarmConfig) ResolvedFile() string { return c.file.Resolved }

// CheckFile parses the compose file well enough to find its services.
func (c *SwarmConfig) CheckFile(field string, data []byte) error {
	if field != "source.file" {
		return nil
	}
	return checkDoc(data)
}

// StackName is the Swarm stack of a workload.
func StackName(w *sources.Workload, c *SwarmConfig) string {
	if c.Stack != "" {
		return c.Stack
	}
	return "berth-" + sources.Slug(w)
}
