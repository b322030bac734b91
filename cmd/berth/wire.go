package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// composeEnv is the environment docker compose runs in: this process's,
// without Berth's own settings, pointed at the same daemon.
func composeEnv(dockerHost string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			env = append(env, kv)
		}
	}
	if dockerHost != "" {
		env = append(env, "DOCKER_HOST="+dockerHost)
	}
	return env
}

// runFlags are the flags sync and agent share.
type runFlags struct {
	repo, branch, path, stateDir string
	agentName                    string
	allowEmpty, selfHeal         bool
	parallel                     int
	gitUser, gitPasswordFile     string
	sshKeyFile, sshKnownHosts    string
	dockerHost                   string
	logLevel, logFormat          string
	router, caddyAdmin           string
	httpAddr, httpsAddr          string
	livenessWindow, drain        time.Duration
	identities                   []string
	statusBranch                 string
	commitStatus, forgeURL       string
	forgeTokenFile, forgeRepo    string
}

func (f *runFlags) register(cmd *cobra.Command, defaultRouter string) {
	fs := cmd.Flags()
	fs.StringVar(&f.repo, "repo", "", "config repo: URL (https://, ssh://, git@host:path, file://) or local path")
	fs.StringVar(&f.branch, "branch", "main", "branch to watch")
	fs.StringVar(&f.path, "path", "", "config folder inside the repo")
	fs.StringVar(&f.stateDir, "state-dir", ".berth", "where Berth keeps its database and clone")
	fs.StringVar(&f.agentName, "agent-name", "", "this agent's name (default: host name); it owns the containers it labels")
	fs.BoolVar(&f.allowEmpty, "allow-empty", false, "allow pruning every workload when the repo renders none")
	fs.BoolVar(&f.selfHeal, "self-heal", true, "redeploy a workload whose container vanished")
	fs.IntVar(&f.parallel, "parallel", 4, "workloads deployed at once")
	fs.StringVar(&f.gitUser, "git-username", "git", "user name for http(s) git auth")
	fs.StringVar(&f.gitPasswordFile, "git-password-file", "", "file holding the http(s) password or token")
	fs.StringVar(&f.sshKeyFile, "ssh-key-file", "", "private key file for ssh git URLs")
	fs.StringVar(&f.sshKnownHosts, "ssh-known-hosts", "", "known_hosts file for ssh git URLs (default ~/.ssh/known_hosts)")
	fs.StringVar(&f.dockerHost, "docker-host", os.Getenv("DOCKER_HOST"), "Docker daemon address (default: DOCKER_HOST or the local socket)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.router, "router", defaultRouter, "embedded, caddy or none (sync: caddy when --caddy-admin answers, else none)")
	fs.DurationVar(&f.livenessWindow, "liveness-window", 5*time.Second, "how long a container without a healthcheck must stay up to pass the gate")
	fs.DurationVar(&f.drain, "drain", 2*time.Second, "pause between the route swap and stopping the old container")
	fs.StringVar(&f.caddyAdmin, "caddy-admin", "http://127.0.0.1:2019", "Caddy admin API for --router caddy")
	fs.StringVar(&f.httpAddr, "http", ":80", "where the embedded proxy listens for HTTP")
	fs.StringVar(&f.httpsAddr, "https", ":443", `where the embedded proxy listens for HTTPS ("" turns TLS off)`)
	fs.StringVar(&f.statusBranch, "status-branch", "berth/status", `branch for status commits ("" turns them off)`)
	fs.StringVar(&f.commitStatus, "commit-status", "", "post forge commit statuses: gitea, github or gitlab")
	fs.StringVar(&f.forgeURL, "forge-url", "", "the forge's API root (https://gitea.example.com, https://api.github.com, https://gitlab.com)")
	fs.StringVar(&f.forgeTokenFile, "forge-token-file", "", "file holding the forge API token")
	fs.StringVar(&f.forgeRepo, "forge-repo", "", "owner/name of the config repo on the forge (default: from --repo)")
	fs.StringSliceVar(&f.identities, "identity", nil, "age identity file(s) for shared secrets (also BERTH_IDENTITY_FILE; several for key rotation)")
}

// runtime is a wired agent and what must be closed after it.
type runtime struct {
	agent *agent.Agent
	log   *slog.Logger
	close func()
}

func (f *runFlags) wire(ctx context.Context, cmd *cobra.Command, opts agent.Options) (*runtime, error) {
	redactor := secrets.NewRedactor()
	log, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
	if err != nil {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	// Every log line, at every level, is masked for known secret values.
	log = slog.New(secrets.Handler(log.Handler(), redactor))
	if f.repo == "" {
		return nil, &exitError{code: 2, msg: "--repo is required (a URL or a local path to the config repo)"}
	}
	if f.agentName == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("--agent-name not set and the host name is unknown: %w", err)
		}
		f.agentName = strings.ToLower(host)
	}
	// Absolute, so paths handed to child processes (docker compose runs
	// in the compose file's folder) mean the same there.
	if f.stateDir, err = filepath.Abs(f.stateDir); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	creds := gitops.Credentials{Username: f.gitUser, PasswordFile: f.gitPasswordFile, SSHKeyFile: f.sshKeyFile, KnownHosts: f.sshKnownHosts}
	repo, err := gitops.NewRepo(f.repo, f.branch, filepath.Join(f.stateDir, "repo"), creds)
	if err != nil {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	st, err := store.Open(ctx, filepath.Join(f.stateDir, "berth.db"))
	if err != nil {
		return nil, err
	}
	docker, err := sources.NewDocker(f.dockerHost)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	if err := docker.Ping(ctx); err != nil {
		_ = st.Close()
		_ = docker.Close()
		return nil, fmt.Errorf("%w (is dockerd running? scripts/docker starts it)", err)
	}
	rt, stopRouter, err := f.newRouter(ctx, log)
	if err != nil {
		_ = st.Close()
		_ = docker.Close()
		return nil, err
	}
	opts.Name = f.agentName
	opts.Path = f.path
	opts.AllowEmpty = f.allowEmpty
	opts.SelfHeal = f.selfHeal
	opts.Parallel = f.parallel
	opts.Router = rt
	opts.LivenessWindow = f.livenessWindow
	opts.Drain = f.drain
	opts.AppRepo = func(url, branch, name string) (agent.AppRepo, error) {
		return gitops.NewRepo(url, branch, filepath.Join(f.stateDir, "apps", name), creds)
	}
	if len(f.identities) == 0 {
		if v := os.Getenv("BERTH_IDENTITY_FILE"); v != "" {
			f.identities = strings.Split(v, ",")
		}
	}
	ids, idErr := secrets.LoadIdentities(f.identities)
	if idErr != nil {
		log.Warn("shared secrets will be skipped", "error", idErr)
	}
	key, err := secrets.LoadKey(filepath.Join(f.stateDir, "secret.key"))
	if err != nil {
		return nil, fmt.Errorf("state dir key: %w", err)
	}
	opts.Secrets = secrets.NewResolver(ids, idErr, redactor)
	opts.SecretKey = key
	opts.Redactor = redactor
	if f.commitStatus != "" {
		repoName := f.forgeRepo
		if repoName == "" {
			repoName = gitops.RepoFromURL(f.repo)
		}
		forge, err := gitops.NewForge(f.commitStatus, f.forgeURL, repoName, f.forgeTokenFile)
		if err != nil {
			return nil, &exitError{code: 2, msg: err.Error()}
		}
		opts.Forge = forge
	}
	if f.statusBranch != "" {
		if f.statusBranch == f.branch {
			return nil, &exitError{code: 2, msg: fmt.Sprintf("--status-branch %q is the watched branch: status commits must go elsewhere", f.statusBranch)}
		}
		sw, err := gitops.NewStatusWriter(f.repo, f.statusBranch, f.agentName, filepath.Join(f.stateDir, "status.git"), creds)
		if err != nil {
			return nil, &exitError{code: 2, msg: err.Error()}
		}
		opts.Status = sw
	}
	opts.Compose = &compose.Stack{Dir: filepath.Join(f.stateDir, "compose"), Env: composeEnv(f.dockerHost)}
	// Crash tests stop the process at a named deploy step (DESIGN §4).
	opts.Failpoint = os.Getenv("BERTH_FAILPOINT")
	a := agent.New(opts, repo, st, docker, log)
	return &runtime{agent: a, log: log, close: func() {
		stopRouter()
		if err := errors.Join(st.Close(), docker.Close()); err != nil {
			log.Warn("closing", "error", err)
		}
	}}, nil
}
