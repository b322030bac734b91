package gitops

import (
	"github.com/berthops/berth/sources"
)

// RepoConfig is berth.yaml: repo-wide settings.
type RepoConfig struct {
	Secrets       SecretsConfig  `yaml:"secrets"`
	Defaults      Defaults       `yaml:"defaults"`
	Notifications []Notification `yaml:"notifications"`
	Registries    []Registry     `yaml:"registries"`
	Backups       BackupsConfig  `yaml:"backups"`
	Previews      *Previews      `yaml:"previews"`
}

// BackupsConfig is the backups block of berth.yaml: what the repo says of
// the target the operator chose (--backup-dir, --backup-s3).
type BackupsConfig struct {
	// S3Secret names the global shared secret that holds the S3 target's
	// credentials, as ACCESS_KEY_ID:SECRET_ACCESS_KEY.
	S3Secret string `yaml:"s3_secret"`
}

// Registry is a login for a private registry, for pulls and builds' base
// images; the password is a global shared secret.
type Registry struct {
	Host           string `yaml:"host"`
	Username       string `yaml:"username"`
	PasswordSecret string `yaml:"password_secret"`
}

// Notification is one destination of the notifications block: a URL, or
// the name of a global shared secret that holds one (a URL with a token),
// and the event kinds it hears (default: notify.DefaultEvents).
type Notification struct {
	URL       string   `yaml:"url"`
	URLSecret string   `yaml:"url_secret"`
	Events    []string `yaml:"events"`
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
	Resources       *sources.Resources   `yaml:"resources"`
}

// AppConfig is apps/<app>/app.yaml: app-wide settings.
type AppConfig struct {
	Defaults Defaults  `yaml:"defaults"`
	Previews *Previews `yaml:"previews"`
}
