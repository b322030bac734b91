// Package static deploys static sites from a folder in the config repo.
package static

import (
	"fmt"
	"path"

	"github.com/berthops/berth/sources"
)

// Config is the `source:` block of a static workload.
type Config struct {
	Dir     string `yaml:"dir" json:"dir"`
	SPA     bool   `yaml:"spa" json:"spa,omitempty"`
	Runtime string `yaml:"runtime" json:"runtime,omitempty"`
	Storage string `yaml:"storage" json:"storage,omitempty"`
	// DenoImage and Entry configure runtime: deno.
	DenoImage      string `yaml:"deno_image" json:"deno_image,omitempty"`
	Entry          string `yaml:"entry" json:"entry,omitempty"`
	DeployStrategy string `yaml:"deploy_strategy" json:"deploy_strategy,omitempty"`

	site sources.Path // resolved by the loader (see Paths)
}

// The deno runtime's defaults.
const (
	DefaultDenoImage = "denoland/deno:2.1.4"
	DefaultEntry     = "main.ts"
)

// Image is the deno base image.
func (c *Config) Image() string {
	if c.DenoImage == "" {
		return DefaultDenoImage
	}
	return c.DenoImage
}

// EntryFile is the deno program to run.
func (c *Config) EntryFile() string {
	if c.Entry == "" {
		return DefaultEntry
	}
	return c.Entry
}

var (
	_ sources.Config         = (*Config)(nil)
	_ sources.RecreateForcer = (*Config)(nil)
	_ sources.DefaultPorter  = (*Config)(nil)
)

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
	if c.Storage != "" && !path.IsAbs(c.Storage) {
		errs = append(errs, sources.FieldError{Field: "source.storage", Msg: fmt.Sprintf("%q must be an absolute path inside the container, such as /data", c.Storage)})
	}
	if c.Runtime != "deno" && (c.DenoImage != "" || c.Entry != "") {
		errs = append(errs, sources.FieldError{Field: "source.runtime", Msg: "deno_image and entry need runtime: deno"})
	}
	if err := sources.ValidateStrategy(c.Kind(), c.DeployStrategy); err != nil {
		errs = append(errs, sources.FieldError{Field: "source.deploy_strategy", Msg: err.Error()})
	}
	return errs
}

var _ sources.PathReferrer = (*Config)(nil)

// Paths lists the site folder, for the loader to resolve.
func (c *Config) Paths() []*sources.Path {
	if c.Dir == "" {
		return nil
	}
	if c.site.Field == "" {
		c.site = sources.Path{Field: "source.dir", Value: c.Dir}
	}
	return []*sources.Path{&c.site}
}

// DefaultPort is where the site's server listens when the workload sets
// no port: 8080 for the built-in server, 8000 for deno.
func (c *Config) DefaultPort() int {
	if c.Runtime == "deno" {
		return 8000
	}
	return 8080
}
