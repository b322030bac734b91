package gitops

import (
	"gopkg.in/yaml.v3"

	"github.com/berthops/berth/sources"
)

// RepoConfig is berth.yaml: repo-wide settings.
type RepoConfig struct {
	Secrets  SecretsConfig `yaml:"secrets"`
	Defaults Defaults      `yaml:"defaults"`
}

// SecretsConfig is the secrets block of berth.yaml.
type SecretsConfig struct {
	// Recipients are the age public keys `berth secrets set` encrypts to.
	Recipients []string `yaml:"recipients"`
	// OnError is "warn" (the default: deploy without the secret) or "fail".
	OnError string `yaml:"on_error"`
}

// Defaults apply to every workload that does not set the field itself;
// app.yaml defaults override berth.yaml defaults.
type Defaults struct {
	Healthcheck     *sources.Healthcheck `yaml:"healthcheck"`
	StopGracePeriod sources.Duration     `yaml:"stop_grace_period"`
}

// AppConfig is apps/<app>/app.yaml: app-wide settings.
type AppConfig struct {
	Defaults Defaults `yaml:"defaults"`
}

// workloadFile is the shape of apps/<app>/<name>.yaml. The source block is
// kept as a node and decoded in a second step, into the config struct of
// the kind its `type` names, so unknown fields are caught per kind.
type workloadFile struct {
	Source          yaml.Node            `yaml:"source"`
	Env             map[string]string    `yaml:"env"`
	Port            int                  `yaml:"port"`
	HostPort        int                  `yaml:"host_port"`
	Route           *sources.Route       `yaml:"route"`
	Healthcheck     *sources.Healthcheck `yaml:"healthcheck"`
	StopGracePeriod sources.Duration     `yaml:"stop_grace_period"`
}
