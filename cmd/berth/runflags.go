package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/secretfile"
)

// agentNamePattern is what an agent name may be: it goes into labels,
// route ids (where "_" separates it from the workload) and status folders.
var agentNamePattern = gitops.AgentNameRe

// runFlags are the flags sync and agent share.
type runFlags struct {
	state                     stateFlag
	logs                      logFlags
	repo, branch, path        string
	agentName                 string
	agentLabels               string
	labels                    map[string]string
	allowEmpty, selfHeal      bool
	parallel                  int
	gitUser, gitPasswordFile  string
	sshKeyFile, sshKnownHosts string
	dockerHost                string
	router                    *choice
	caddyAdmin                string
	httpAddr, httpsAddr       string
	acme                      acmeFlags
	livenessWindow, drain     time.Duration
	identities                []string
	backupDir                 string
	backupS3                  string
	updateSigningKey          string
	statsInterval             time.Duration
	engine                    string
	pushRegistry              string
	swarmSecrets              string
	statusBranch              string
	commitStatus              *choice
	forgeURL                  string
	forgeTokenFile, forgeRepo string
	retryBackoff, retryMax    time.Duration
	keepReleases              int
	pruneVolumes              bool
	composeWait               time.Duration
	allow                     allowFlag
	repoCredentials           []string
	credentialRules           []gitops.CredentialRule
	trustedSigners            string
	siteServer                string
	signers                   *gitops.Signers
	timeouts                  agent.Timeouts
	composeTimeout            time.Duration
	eventsMaxAge              time.Duration
}

func (f *runFlags) register(cmd *cobra.Command, defaultRouter string) {
	fs := cmd.Flags()
	f.state.register(fs)
	f.logs.register(cmd, fs)
	f.allow.register(cmd)
	fs.StringVar(&f.repo, "repo", "", "config repo: URL (https://, ssh://, git@host:path, file://) or local path")
	fs.StringVar(&f.branch, "branch", "main", "branch to watch")
	fs.StringVar(&f.path, "path", "", "config folder inside the repo")
	fs.StringVar(&f.agentName, "agent-name", "", "this agent's name (default: host name); it owns the containers it labels")
	fs.StringVar(&f.agentLabels, "agent-labels", "", "this agent's labels for workload placement: role=web,zone=eu")
	fs.BoolVar(&f.allowEmpty, "allow-empty", false, "allow pruning every workload when the repo renders none")
	fs.BoolVar(&f.selfHeal, "self-heal", true, "redeploy a workload whose container vanished")
	fs.IntVar(&f.parallel, "parallel", 4, "workloads deployed at once")
	fs.StringVar(&f.gitUser, "git-username", "git", "user name for http(s) git auth")
	fs.StringArrayVar(&f.repoCredentials, "repo-credentials", nil, "PREFIX=USER:FILE: credentials for app repos whose URL starts with PREFIX (repeatable; longest prefix wins)")
	fs.StringVar(&f.trustedSigners, "trusted-signers", "", "only deploy config commits signed by a key in this file (SSH allowed-signers lines and/or armored PGP public keys)")
	fs.StringVar(&f.gitPasswordFile, "git-password-file", "", "file holding the http(s) password or token")
	fs.StringVar(&f.sshKeyFile, "ssh-key-file", "", "private key file for ssh git URLs")
	fs.StringVar(&f.sshKnownHosts, "ssh-known-hosts", "", "known_hosts file for ssh git URLs (default ~/.ssh/known_hosts)")
	fs.StringVar(&f.siteServer, "site-server", "", "the statically linked server static-site images run (default: berth-site beside berth, else berth itself)")
	fs.StringVar(&f.dockerHost, "docker-host", os.Getenv("DOCKER_HOST"), "Docker daemon address (default: DOCKER_HOST or the local socket)")
	f.router = addChoice(cmd, fs, "router", defaultRouter, "the proxy: embedded Caddy, an external Caddy's admin API, none (auto: caddy when --caddy-admin answers)",
		"embedded", "caddy", "none", "auto")
	fs.DurationVar(&f.livenessWindow, "liveness-window", 5*time.Second, "how long a container without a healthcheck must stay up to pass the gate")
	fs.DurationVar(&f.drain, "drain", 2*time.Second, "pause between the route swap and stopping the old container")
	fs.StringVar(&f.caddyAdmin, "caddy-admin", "http://127.0.0.1:2019", "Caddy admin API for --router caddy")
	fs.StringVar(&f.httpAddr, "http", ":80", "where the embedded proxy listens for HTTP")
	fs.StringVar(&f.httpsAddr, "https", ":443", `where the embedded proxy listens for HTTPS ("" turns TLS off)`)
	f.acme.register(fs)
	fs.StringVar(&f.statusBranch, "status-branch", "berth/status", `branch for status commits ("" turns them off)`)
	f.commitStatus = addChoice(cmd, fs, "commit-status", "", "post forge commit statuses to this kind of forge", "", "gitea", "github", "gitlab")
	fs.StringVar(&f.forgeURL, "forge-url", "", "the forge's API root (https://gitea.example.com, https://api.github.com, https://gitlab.com)")
	fs.StringVar(&f.forgeTokenFile, "forge-token-file", "", "file holding the forge API token")
	fs.StringVar(&f.forgeRepo, "forge-repo", "", "owner/name of the config repo on the forge (default: from --repo)")
	fs.DurationVar(&f.retryBackoff, "retry-backoff", time.Minute, "first wait before retrying a failed deploy of the same config (doubles each time)")
	fs.DurationVar(&f.retryMax, "retry-max", 30*time.Minute, "longest wait between retries of a failed deploy")
	fs.IntVar(&f.keepReleases, "keep-releases", 10, "releases kept per workload for rollback (their images are kept too)")
	fs.BoolVar(&f.pruneVolumes, "prune-volumes", false, "also delete the volumes of workloads removed from git (default: kept)")
	fs.DurationVar(&f.composeWait, "compose-wait", 2*time.Minute, "how long docker compose up waits for every service to run (healthy, with a healthcheck)")
	fs.DurationVar(&f.timeouts.Git, "git-timeout", 2*time.Minute, "deadline of a git fetch or push (config repo, app repos, status branch)")
	fs.DurationVar(&f.timeouts.Pull, "pull-timeout", 10*time.Minute, "deadline of an image pull")
	fs.DurationVar(&f.timeouts.Build, "build-timeout", 30*time.Minute, "deadline of an image build")
	fs.DurationVar(&f.composeTimeout, "compose-timeout", 10*time.Minute, "deadline of a docker compose process")
	fs.DurationVar(&f.timeouts.Forge, "forge-timeout", 30*time.Second, "deadline of one commit status, retries included (Retry-After is capped by it)")
	fs.DurationVar(&f.eventsMaxAge, "events-max-age", 720*time.Hour, "events older than this are deleted (and at most 10,000 are kept per workload)")
	fs.StringVar(&f.backupDir, "backup-dir", "", "where volume snapshots go (berth backup, restore), encrypted to berth.yaml's recipients; \"\" turns backups off")
	fs.DurationVar(&f.statsInterval, "stats-interval", 2*time.Minute, "how often containers' CPU, memory and restarts are sampled for berth status and /metrics (0: never; the workload page samples on demand)")
	fs.StringVar(&f.engine, "engine", "docker", "how image, dockerfile and static workloads run: docker (containers on this host) or swarm (Swarm services, from a manager: replicas, constraints, rolling updates)")
	fs.StringVar(&f.pushRegistry, "push-registry", "", "under --engine swarm: the registry (HOST[/PREFIX]) builds are pushed to and pulled from by digest on every node; logins from berth.yaml registries")
	fs.StringVar(&f.swarmSecrets, "swarm-secrets", "files", "under --engine swarm, how shared secrets reach tasks: files (Swarm secrets at /run/secrets/NAME, NAME_FILE in the env; never on a node's disk) or env (as containers get them; each node's task store then holds them in plain text)")
	fs.StringVar(&f.updateSigningKey, "update-signing-key", "", "an unencrypted SSH private key that signs the agent's image-update commits (source.update), so --trusted-signers can include the agent")
	fs.StringVar(&f.backupS3, "backup-s3", "", "an S3-compatible backup target instead: https://ENDPOINT/BUCKET[/PREFIX] (http:// for a store on this host, s3://BUCKET[/PREFIX] for AWS; ?region=R); credentials from the shared secret berth.yaml backups.s3_secret names")
	fs.StringSliceVar(&f.identities, "identity", nil, "age identity file(s) for shared secrets (also BERTH_IDENTITY_FILE; several for key rotation)")
}

// validate checks and completes every flag before anything is opened, so
// a mistake is reported without side effects (no state dir, no listener).
func (f *runFlags) validate() error {
	usage := func(format string, args ...any) error {
		return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
	}
	if f.repo == "" {
		return usage("--repo is required (a URL or a local path to the config repo)")
	}
	if f.agentName == "" {
		host, err := os.Hostname()
		if err != nil {
			return usage("--agent-name not set and the host name is unknown: %v", err)
		}
		f.agentName = strings.ToLower(host)
	}
	if !agentNamePattern.MatchString(f.agentName) {
		return usage("--agent-name %q: use lower-case letters, digits, '.' and '-' (at most 63, starting with a letter or digit)", f.agentName)
	}
	labels, err := gitops.ParseAgentLabels(f.agentLabels)
	if err != nil {
		return usage("%v", err)
	}
	f.labels = labels
	if f.parallel < 1 {
		return usage("--parallel must be at least 1")
	}
	if f.keepReleases < 1 {
		return usage("--keep-releases must be at least 1")
	}
	if f.retryBackoff <= 0 || f.retryMax < f.retryBackoff {
		return usage("--retry-backoff must be positive and at most --retry-max")
	}
	for flag, d := range map[string]time.Duration{"--git-timeout": f.timeouts.Git, "--pull-timeout": f.timeouts.Pull, "--build-timeout": f.timeouts.Build,
		"--compose-timeout": f.composeTimeout, "--forge-timeout": f.timeouts.Forge, "--events-max-age": f.eventsMaxAge} {
		if d <= 0 {
			return usage("%s must be positive", flag)
		}
	}
	if f.statusBranch != "" && f.statusBranch == f.branch {
		return usage("--status-branch %q is the watched branch: status commits must go elsewhere", f.statusBranch)
	}
	if f.commitStatus.value != "" {
		if f.forgeURL == "" || f.forgeTokenFile == "" {
			return usage("--commit-status needs --forge-url and --forge-token-file")
		}
		if _, err := secretfile.Read(f.forgeTokenFile); err != nil {
			return usage("--forge-token-file: %v", err)
		}
		if f.forgeRepo == "" {
			f.forgeRepo = gitops.RepoFromURL(f.repo)
		}
	}
	f.credentialRules = nil
	for _, r := range f.repoCredentials {
		rule, err := gitops.ParseCredentialRule(r)
		if err != nil {
			return usage("%v", err)
		}
		f.credentialRules = append(f.credentialRules, rule)
	}
	if f.trustedSigners != "" {
		signers, err := gitops.LoadSigners(f.trustedSigners)
		if err != nil {
			return usage("--trusted-signers: %v", err)
		}
		f.signers = signers
	}
	if len(f.identities) == 0 {
		if v := os.Getenv("BERTH_IDENTITY_FILE"); v != "" {
			f.identities = strings.Split(v, ",")
		}
	}
	// Absolute, so paths handed to child processes (docker compose runs in
	// the compose file's folder) mean the same there.
	dir, err := filepath.Abs(f.state.dir)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	f.state.dir = dir
	return nil
}

func (f *runFlags) credentials() gitops.Credentials {
	return gitops.Credentials{Username: f.gitUser, PasswordFile: f.gitPasswordFile, SSHKeyFile: f.sshKeyFile, KnownHosts: f.sshKnownHosts}
}
