package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/internal/statedir"
	"github.com/berthops/berth/secrets"
)

// runtime is a wired agent and what must be closed after it.
type runtime struct {
	agent    *agent.Agent
	store    *store.Store
	log      *slog.Logger
	redactor *secrets.Redactor
	close    func()
}

// closers runs cleanups in reverse order: the one cleanup path for every
// resource wire opens, whether wiring succeeds or stops half way.
type closers []func()

func (c *closers) add(f func()) { *c = append(*c, f) }

func (c closers) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// wire validates every flag, then opens the state dir, the database, the
// Docker client, the proxy, the status writer and the forge client, and
// builds the agent. On any error everything opened so far is closed.
func (f *runFlags) wire(ctx context.Context, cmd *cobra.Command, opts agent.Options) (rt *runtime, err error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	redactor := secrets.NewRedactor()
	log, err := newLogger(cmd.ErrOrStderr(), f.logs.format.value, f.logs.level.value)
	if err != nil {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	// Every log line, at every level, is masked for known secret values.
	log = slog.New(secrets.Handler(log.Handler(), redactor))

	var cl closers
	defer func() {
		if err != nil {
			cl.run()
		}
	}()
	if err := os.MkdirAll(f.state.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	lock, err := statedir.Acquire(f.state.dir, "berth "+cmd.Name())
	if err != nil {
		return nil, &exitError{code: 1, msg: err.Error(), err: err}
	}
	cl.add(func() { _ = lock.Release() })
	if opts.StateID, err = statedir.ID(f.state.dir); err != nil {
		return nil, err
	}
	repo, err := gitops.NewRepo(f.repo, f.branch, filepath.Join(f.state.dir, "repo"), f.credentials())
	if err != nil {
		return nil, &exitError{code: 2, msg: err.Error()}
	}
	repo.Failpoint = failpoint(log)
	repo.Signers = f.signers
	st, err := store.Open(ctx, filepath.Join(f.state.dir, "berth.db"))
	if err != nil {
		return nil, err
	}
	cl.add(func() { _ = st.Close() })
	docker, err := openDocker(ctx, f.dockerHost)
	if err != nil {
		return nil, err
	}
	cl.add(func() { _ = docker.Close() })
	if err := f.options(ctx, &opts, redactor, log, &cl); err != nil {
		return nil, err
	}
	opts.Swarm = &engine.Swarm{Stack: opts.Compose, API: docker}
	switch f.engine {
	case "docker", "":
		if f.pushRegistry != "" {
			return nil, errors.New("--push-registry is for --engine swarm")
		}
	case agent.EngineSwarm:
		if err := docker.SwarmManager(ctx); err != nil {
			return nil, fmt.Errorf("--engine swarm: %w", err)
		}
		opts.Engine.Services = &engine.Services{API: docker}
		opts.PushRegistry = f.pushRegistry
		switch f.swarmSecrets {
		case "files", "":
		case "env":
			opts.SwarmSecretsEnv = true
		default:
			return nil, fmt.Errorf("--swarm-secrets %q: use files or env", f.swarmSecrets)
		}
	default:
		return nil, fmt.Errorf("--engine %q: use docker or swarm", f.engine)
	}
	return &runtime{agent: agent.New(opts, repo, st, docker, log), store: st, log: log, redactor: redactor, close: cl.run}, nil
}

func openDocker(ctx context.Context, host string) (*docker.Client, error) {
	docker, err := docker.New(host)
	if err != nil {
		return nil, err
	}
	if err := docker.Ping(ctx); err != nil {
		_ = docker.Close()
		return nil, fmt.Errorf("%w (is dockerd running? scripts/docker starts it)", err)
	}
	return docker, nil
}

// options fills the agent's options from the flags, opening the proxy,
// the status writer and the forge client.
func (f *runFlags) options(ctx context.Context, opts *agent.Options, redactor *secrets.Redactor, log *slog.Logger, cl *closers) error {
	rt, stopRouter, err := f.newRouter(ctx, log)
	if err != nil {
		return err
	}
	cl.add(stopRouter)
	ids, idErr := secrets.LoadIdentities(f.identities)
	if idErr != nil {
		log.Warn("shared secrets will be skipped", "error", idErr)
	}
	key, err := secrets.LoadKey(filepath.Join(f.state.dir, "secret.key"))
	if err != nil {
		return fmt.Errorf("state dir key: %w", err)
	}
	creds := f.credentials()
	opts.Name, opts.Path, opts.AllowEmpty, opts.SelfHeal, opts.Parallel = f.agentName, f.path, f.allowEmpty, f.selfHeal, f.parallel
	opts.Labels = f.labels
	opts.Router = rt
	switch {
	case f.backupDir != "" && f.backupS3 != "":
		return errors.New("--backup-dir and --backup-s3: choose one backup target")
	case f.backupDir != "":
		if opts.BackupDir, err = filepath.Abs(f.backupDir); err != nil {
			return fmt.Errorf("--backup-dir: %w", err)
		}
	case f.backupS3 != "":
		if _, _, _, _, _, err := backup.ParseS3URL(f.backupS3); err != nil {
			return err
		}
		opts.BackupS3 = f.backupS3
	}
	opts.BackupIdentities = ids
	opts.Engine = engine.Options{LivenessWindow: f.livenessWindow, Drain: f.drain, Failpoint: failpoint(log)}
	opts.Policy = f.allow.policy
	opts.AppRepo = func(url, branch, name string) (agent.AppRepo, error) {
		if v := f.allow.policy.RepoURL("source.git.url", url); len(v) > 0 {
			return nil, v[0]
		}
		// The config repo's credentials go only to its own origin.
		return gitops.NewRepo(url, branch, filepath.Join(f.state.dir, "apps", name), gitops.CredentialsFor(url, f.repo, creds, f.credentialRules))
	}
	opts.Secrets, opts.SecretKey, opts.Redactor = secrets.NewResolver(ids, idErr, redactor), key, redactor
	opts.Compose = &engine.Compose{Dir: filepath.Join(f.state.dir, "compose"), Env: engine.CLIEnv(os.Environ(), f.dockerHost), Wait: f.composeWait, Timeout: f.composeTimeout}
	opts.Timeouts, opts.EventsMaxAge = f.timeouts, f.eventsMaxAge
	opts.RetryBackoff, opts.RetryMax, opts.KeepReleases, opts.PruneVolumes = f.retryBackoff, f.retryMax, f.keepReleases, f.pruneVolumes
	opts.StaticServer = f.siteServer
	opts.StatsInterval = f.statsInterval
	opts.StateDir = f.state.dir
	if f.commitStatus.value != "" {
		fc, err := forge.New(f.commitStatus.value, f.forgeURL, f.forgeRepo, f.forgeTokenFile)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		opts.Forge = fc
		opts.PullRequests = fc // push: pull-request image updates
		opts.Pulls = fc        // previews of pull requests
	}
	// Image updates (source.update) commit with the config repo's
	// credentials, as the agent.
	fcm := gitops.NewFileCommitter(f.repo, filepath.Join(f.state.dir, "update.git"), f.agentName, creds)
	fcm.Log = log
	if f.updateSigningKey != "" {
		if fcm.Key, err = gitops.LoadSigningKey(f.updateSigningKey); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
	}
	opts.Committer = fcm
	if f.statusBranch != "" {
		sw, err := gitops.NewStatusWriter(f.repo, f.statusBranch, f.agentName, filepath.Join(f.state.dir, "status.git"), creds)
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		sw.Log = log
		opts.Status = sw
	}
	return nil
}

// failpoint is the crash-test hook: with BERTH_FAILPOINT set
// to a deploy step, the process exits hard at that step, so tests can
// prove that the next tick converges. Off otherwise.
func failpoint(log *slog.Logger) func(fault.Step) {
	want := os.Getenv("BERTH_FAILPOINT")
	if want == "" {
		return nil
	}
	return func(step fault.Step) {
		if string(step) == want {
			log.Error("failpoint reached: exiting", "step", string(step))
			os.Exit(fault.FailpointExitCode)
		}
	}
}

// commitURL is the forge's web address of a config commit ("{sha}" in
// it), for the UI's links; "" without --forge-url.
func (f *runFlags) commitURL() string {
	if f.forgeURL == "" {
		return ""
	}
	repo := f.forgeRepo
	if repo == "" {
		repo = gitops.RepoFromURL(f.repo)
	}
	web := strings.TrimRight(f.forgeURL, "/")
	switch f.commitStatus.value {
	case forge.GitHub:
		web = strings.Replace(strings.TrimSuffix(web, "/api/v3"), "://api.github.com", "://github.com", 1)
		return web + "/" + repo + "/commit/{sha}"
	case forge.GitLab:
		return strings.TrimSuffix(web, "/api/v4") + "/" + repo + "/-/commit/{sha}"
	}
	return strings.TrimSuffix(web, "/api/v1") + "/" + repo + "/commit/{sha}"
}
