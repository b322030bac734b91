package gitops

// fieldDocs are the descriptions of the config files' fields, for people:
// editors show them (the JSON Schema's descriptions) and
// docs/configuration.md is generated from them (SchemaMarkdown). Keys are
// the Go field, as the schema reflector names it: package path, type,
// field.
var fieldDocs = map[string]string{
	// apps/<app>/<name>.yaml
	"github.com/berthops/berth/sources.Spec.Env":             "Environment variables of the container (for compose and stack workloads: the interpolation variables of the compose file). They override the app's and the repo's shared secrets of the same name.",
	"github.com/berthops/berth/sources.Spec.Port":            "The port the server listens on inside the container. Berth publishes it on 127.0.0.1 with an ephemeral host port; the proxy and the readiness gate reach it there. No port: a worker, judged by staying up.",
	"github.com/berthops/berth/sources.Spec.HostPort":        "Publish the port on this fixed host port as well (on 127.0.0.1). Two copies cannot hold one host port, so such a workload cannot use blue-green.",
	"github.com/berthops/berth/sources.Spec.Route":           "The host names the proxy routes to this workload (needs a port).",
	"github.com/berthops/berth/sources.Spec.Healthcheck":     "The readiness gate: the new version gets traffic only once this path answers 2xx. Without one, any answer below 500 on / passes (within 60s).",
	"github.com/berthops/berth/sources.Spec.StopGracePeriod": "How long a stopping container gets between SIGTERM and SIGKILL (default 10s).",
	"github.com/berthops/berth/sources.Spec.Volumes":         "Named volumes, name → path in the container. They survive redeploys and are kept by prune unless --prune-volumes. A workload with volumes deploys with recreate (two copies must not share them).",
	"github.com/berthops/berth/sources.Spec.BeforeDeploy":    "A task (a migration) run once per new desired version, in the new image with the new env, secrets and volumes, before the running version is touched. If it fails (a non-zero exit, its timeout), nothing changes: the old version serves on, and the same version is not retried by itself (push a fix, or berth retry).",
	"github.com/berthops/berth/sources.Task.Command":         "The command, as a list: [\"/app\", \"migrate\"].",
	"github.com/berthops/berth/sources.Task.Timeout":         "How long it may run before it is stopped and the deploy fails (default 10m).",
	"github.com/berthops/berth/sources.Task.Service":         "For compose workloads (not supported yet): the service to run the task as.",
	"github.com/berthops/berth/sources.Route.Hosts":          "Host names, e.g. shop.example.com; a public name gets a certificate (ACME) when the proxy serves HTTPS. Each host belongs to one workload.",
	"github.com/berthops/berth/sources.Healthcheck.Path":     "The path the gate asks, e.g. /healthz.",
	"github.com/berthops/berth/sources.Healthcheck.Timeout":  "How long the gate waits for a 2xx before the deploy fails (default 60s).",
	"github.com/berthops/berth/sources.Placement.Agents":     "Agent names (--agent-name) that run the workload.",
	"github.com/berthops/berth/sources.Placement.Labels":     "Agent labels (--agent-labels) that must all match.",
	// source: image
	"github.com/berthops/berth/sources/image.Config.Image":          "The image reference, e.g. registry.example.com/shop/web:1.4.2 (a digest pins it).",
	"github.com/berthops/berth/sources/image.Config.Pull":           "always | if-not-present. Default: always for :latest or an untagged image, if-not-present otherwise.",
	"github.com/berthops/berth/sources/image.Config.DeployStrategy": "recreate | blue-green. Default: blue-green (recreate when the workload has volumes, or its image declares some).",
	// source: dockerfile
	"github.com/berthops/berth/sources/dockerfile.Config.Context":        "The build context: a folder of the config repo (relative to the workload file), or of the app repo when git is set.",
	"github.com/berthops/berth/sources/dockerfile.Config.Dockerfile":     "The Dockerfile's path inside the context (default Dockerfile).",
	"github.com/berthops/berth/sources/dockerfile.Config.BuildArgs":      "Build arguments (ARG), name → value.",
	"github.com/berthops/berth/sources/dockerfile.Config.Target":         "The stage to build (docker build --target).",
	"github.com/berthops/berth/sources/dockerfile.Config.Git":            "Build from an app repo instead of the config repo: a new commit on its branch redeploys.",
	"github.com/berthops/berth/sources/dockerfile.Config.DeployStrategy": "recreate | blue-green. Default: recreate.",
	"github.com/berthops/berth/sources/dockerfile.GitSource.URL":         "The app repo's URL (https://, ssh://, git@host:path; file:// and host paths need --allow local-repos).",
	"github.com/berthops/berth/sources/dockerfile.GitSource.Ref":         "The branch to follow (default main).",
	// source: static
	"github.com/berthops/berth/sources/static.Config.Dir":            "The folder of the site, relative to the workload file. Berth builds a FROM-scratch image that serves it.",
	"github.com/berthops/berth/sources/static.Config.SPA":            "Serve index.html for paths that are not files (a single-page app).",
	"github.com/berthops/berth/sources/static.Config.Runtime":        "\"\" (Berth's built-in server) or deno (run entry with Deno).",
	"github.com/berthops/berth/sources/static.Config.Storage":        "With runtime deno: a path in the container kept on a volume.",
	"github.com/berthops/berth/sources/static.Config.DenoImage":      "With runtime deno: the Deno image to build on.",
	"github.com/berthops/berth/sources/static.Config.Entry":          "With runtime deno: the script to run, relative to dir.",
	"github.com/berthops/berth/sources/static.Config.DeployStrategy": "recreate | blue-green. Default: recreate.",
	// source: compose, stack
	"github.com/berthops/berth/sources/compose.Config.File":                "The compose file, relative to the workload file. Its folder is the release Berth keeps a copy of.",
	"github.com/berthops/berth/sources/compose.Config.Project":             "The compose project name (default berth-<app>_<name>).",
	"github.com/berthops/berth/sources/compose.Config.DeployStrategy":      "\"\" or recreate: docker compose replaces the containers itself (blue-green is not available).",
	"github.com/berthops/berth/sources/compose.SwarmConfig.File":           "The stack's compose file, relative to the workload file (deployed to Docker Swarm).",
	"github.com/berthops/berth/sources/compose.SwarmConfig.DeployStrategy": "Leave it out: Swarm rolls the services out (deploy.update_config in the file decides the order).",
	// berth.yaml and app.yaml
	"github.com/berthops/berth/gitops.RepoConfig.Secrets":       "Shared secrets: who they are encrypted to.",
	"github.com/berthops/berth/gitops.RepoConfig.Defaults":      "Defaults for every workload; an app's app.yaml overrides them.",
	"github.com/berthops/berth/gitops.RepoConfig.Notifications": "Where events are sent (chat, e-mail, webhooks), through shoutrrr URLs.",
	"github.com/berthops/berth/gitops.RepoConfig.Registries":    "Logins for private registries, for pulls and for the base images of builds.",
	"github.com/berthops/berth/gitops.SecretsConfig.Recipients": "The age public keys `berth secrets set` encrypts to (age1...).",
	"github.com/berthops/berth/gitops.SecretsConfig.OnError":    "warn (default: deploy without a secret that does not decrypt, and say so) | fail.",
	"github.com/berthops/berth/gitops.Defaults.Healthcheck":     "The readiness gate of workloads that set none.",
	"github.com/berthops/berth/gitops.Defaults.StopGracePeriod": "The stop grace period of workloads that set none.",
	"github.com/berthops/berth/gitops.AppConfig.Defaults":       "Defaults for the app's workloads (over berth.yaml's).",
	"github.com/berthops/berth/gitops.Notification.URL":         "A shoutrrr URL, e.g. slack://token@channel or generic://hooks.example.com/berth.",
	"github.com/berthops/berth/gitops.Notification.URLSecret":   "The name of a global shared secret that holds the URL (when it carries a token).",
	"github.com/berthops/berth/gitops.Notification.Events":      "The event kinds sent (default: deploy.failed, deploy.rolled_back, workload.missing, deploy.recovered).",
	"github.com/berthops/berth/gitops.Registry.Host":            "The registry's host, e.g. registry.example.com or ghcr.io.",
	"github.com/berthops/berth/gitops.Registry.Username":        "The user name.",
	"github.com/berthops/berth/gitops.Registry.PasswordSecret":  "The name of a global shared secret that holds the password or token.",
}
