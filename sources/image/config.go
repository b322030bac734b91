// Package image deploys workloads whose source is a pre-built image in a
// registry (or already on the host).
package image

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"

	"github.com/berthops/berth/sources"
)

// Pull policies.
const (
	PullAlways       = "always"
	PullIfNotPresent = "if-not-present"
)

// Config is the `source:` block of an image workload.
type Config struct {
	Image          string `yaml:"image" json:"image"`
	Pull           string `yaml:"pull" json:"pull,omitempty"`
	DeployStrategy string `yaml:"deploy_strategy" json:"deploy_strategy,omitempty"`
	// Update follows new tags by committing them (not hashed: it does
	// not change what runs).
	Update *sources.UpdatePolicy `yaml:"update" json:"-"`
}

// UpdatePolicy is source.update, nil when absent.
func (c *Config) UpdatePolicy() *sources.UpdatePolicy { return c.Update }

var _ sources.Config = (*Config)(nil)

// Kind reports sources.KindImage.
func (c *Config) Kind() sources.Kind { return sources.KindImage }

// Strategy is the requested deploy_strategy.
func (c *Config) Strategy() string { return c.DeployStrategy }

// Validate checks the image reference, the pull policy and the strategy.
func (c *Config) Validate() []sources.FieldError {
	var errs []sources.FieldError
	if c.Image == "" {
		errs = append(errs, sources.FieldError{Field: "source.image", Msg: "is required"})
	} else if _, err := reference.ParseNormalizedNamed(c.Image); err != nil {
		errs = append(errs, sources.FieldError{Field: "source.image", Msg: fmt.Sprintf("%q is not an image reference: %v", c.Image, err)})
	}
	switch c.Pull {
	case "", PullAlways, PullIfNotPresent:
	default:
		errs = append(errs, sources.FieldError{Field: "source.pull", Msg: fmt.Sprintf("%q is not one of %q, %q", c.Pull, PullAlways, PullIfNotPresent)})
	}
	if err := sources.ValidateStrategy(sources.KindImage, c.DeployStrategy); err != nil {
		errs = append(errs, sources.FieldError{Field: "source.deploy_strategy", Msg: err.Error()})
	}
	errs = append(errs, c.Update.Validate(false)...)
	return errs
}

// PullPolicy is the effective pull policy: the explicit one, else like
// Kubernetes, "always" for :latest or an untagged image and "if-not-present"
// for anything pinned by tag or digest.
func (c *Config) PullPolicy() string {
	if c.Pull != "" {
		return c.Pull
	}
	named, err := reference.ParseNormalizedNamed(c.Image)
	if err != nil {
		return PullAlways
	}
	if _, ok := named.(reference.Digested); ok {
		return PullIfNotPresent
	}
	if tagged, ok := named.(reference.Tagged); ok && tagged.Tag() != "latest" {
		return PullIfNotPresent
	}
	return PullAlways
}

// Ref is the normalised reference (docker.io/library/nginx:latest style),
// so an untagged image pulls ":latest" explicitly.
func (c *Config) Ref() string {
	named, err := reference.ParseNormalizedNamed(c.Image)
	if err != nil {
		return c.Image
	}
	return reference.TagNameOnly(named).String()
}

// shortRef drops the default registry prefix for messages.
func shortRef(ref string) string {
	return strings.TrimPrefix(strings.TrimPrefix(ref, "docker.io/library/"), "docker.io/")
}
