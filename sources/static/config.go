// Package static deploys static sites from a folder in the config repo.
package static

import (
	"fmt"

	"github.com/berthops/berth/sources"
)

// Config is the `source:` block of a static workload.
type Config struct {
	Dir            string `yaml:"dir" json:"dir"`
	SPA            bool   `yaml:"spa" json:"spa,omitempty"`
	Runtime        string `yaml:"runtime" json:"runtime,omitempty"`
	Storage        string `yaml:"storage" json:"storage,omitempty"`
	DeployStrategy string `yaml:"deploy_strategy" json:"deploy_strategy,omitempty"`
}

var _ sources.Config = (*Config)(nil)
var _ sources.RecreateForcer = (*Config)(nil)

// Kind reports sources.KindStatic.
func (c *Config) Kind() sources.Kind { return sources.KindStatic }

// Strategy is the requested deploy_strategy.
func (c *Config) Strategy() string { return c.DeployStrategy }

// ForcesRecreate rules out blue-green for a storage-backed deno site: two
// containers would mount the same RW volume at once.
func (c *Config) ForcesRecreate() string {
	if c.Runtime == "deno" && c.Storage != "" {
		return "storage-backed deno site"
	}
	return ""
}

// Validate checks the site folder, the runtime and the strategy.
func (c *Config) Validate() []sources.FieldError {
	var errs []sources.FieldError
	if c.Dir == "" {
		errs = append(errs, sources.FieldError{Field: "source.dir", Msg: "is required"})
	}
	switch c.Runtime {
	case "", "deno":
	default:
		errs = append(errs, sources.FieldError{Field: "source.runtime", Msg: fmt.Sprintf("%q is not one of \"\" (built-in server), \"deno\"", c.Runtime)})
	}
	if c.Storage != "" && c.Runtime != "deno" {
		errs = append(errs, sources.FieldError{Field: "source.storage", Msg: "needs runtime: deno"})
	}
	if err := sources.ValidateStrategy(c.Kind(), c.DeployStrategy); err != nil {
		errs = append(errs, sources.FieldError{Field: "source.deploy_strategy", Msg: err.Error()})
	}
	return errs
}

// Paths lists the repo paths the config refers to, by field.
func (c *Config) Paths() map[string]string {
	if c.Dir == "" {
		return nil
	}
	return map[string]string{"source.dir": c.Dir}
}
