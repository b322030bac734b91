// Package agent runs Berth's loop: on a schedule (and on demand) it pulls
// the config repo, decides what to do, deploys what changed, reconciles
// what runs, and reports the outcomes. Its HTTP face is agent/api.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/notify"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/static"
	"github.com/berthops/berth/update"
)

// Options are the agent's settings; zero values take the defaults.
type Options struct {
	Name string // agent name: owns containers labelled berth.agent=<Name>
	// Labels place workloads on this agent (placement.labels).
	Labels     map[string]string
	Path       string // config sub-folder inside the repo
	AllowEmpty bool   // allow pruning every workload when the repo renders none
	SelfHeal   bool   // redeploy a workload whose container vanished
	Parallel   int    // deploys at once; default 4
	Schedule   string // robfig/cron spec; default "@every 1m"
	// Resync is how often the container view lists every container as a
	// safety net beside Docker's event stream (default 10m).
	Resync time.Duration
	// Heartbeat is how often an idle agent rewrites its status report so
	// that `berth fleet` can tell a quiet agent (default 10m; negative:
	// never).
	Heartbeat time.Duration
	// ShutdownGrace is how long the tick in flight may run on after the
	// agent is told to stop; default 2m.
	ShutdownGrace time.Duration
	// Router is the proxy's route table; nil when no proxy is managed.
	Router *router.Router
	// Engine are the deploy engine's settings (liveness window, drain,
	// failpoint hook); its Router is set from Router.
	Engine engine.Options
	// StaticServer is a statically linked binary that static-site images
	// run; default: this executable.
	StaticServer string
	// AppRepo opens the clone of a dockerfile workload's app repo; nil
	// makes such workloads fail with a clear error.
	AppRepo func(url, branch, name string) (AppRepo, error)
	// Compose runs docker compose for compose workloads; nil makes them
	// fail with a clear error.
	Compose *engine.Compose
	// Swarm deploys stack workloads; nil makes them fail with a clear
	// error.
	Swarm *engine.Swarm
	// PushRegistry (--push-registry HOST[/PREFIX]): builds pushed under --engine swarm.
	PushRegistry string
	// Pulls lists open pull requests for previews (the forge client); nil
	// leaves previews to branches.
	Pulls pullLister
	// StateDir holds files the agent derives (preview heads' files).
	StateDir        string
	SwarmSecretsEnv bool // --swarm-secrets env: a service's shared secrets in its env, not files
	// Secrets decrypts shared secrets; nil means no identity is
	// configured (every secret is then skipped with a warning).
	Secrets *secrets.Resolver
	// SecretKey keys the HMAC of each workload's secret layer.
	SecretKey []byte
	// Redactor masks secret values in events and messages.
	Redactor *secrets.Redactor
	// Status writes status reports back to git; nil turns that off.
	Status statusPusher
	// Forge receives commit statuses; nil turns them off.
	Forge statusPoster
	// RetryBackoff and RetryMax space the retries of a failed desired
	// state: 1m, 2m, 4m … up to 30m by default.
	RetryBackoff, RetryMax time.Duration
	// KeepReleases is how many releases a workload keeps (default 10);
	// images no kept release and no container uses are removed.
	KeepReleases int
	// PruneVolumes removes a pruned workload's volumes too (default: kept).
	PruneVolumes bool
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Timeouts bound the remote calls.
	Timeouts Timeouts
	// Policy is what a commit may ask of the host (--allow).
	Policy policy.Policy
	// StateID is the state dir's identity: it labels every container, and
	// containers of another state dir (an agent with the same name) are
	// never touched.
	StateID string
	// EventsMaxAge is how long events are kept (default 720h); each
	// workload keeps at most its newest 10,000.
	EventsMaxAge time.Duration
	// BackupDir is where volume snapshots go (--backup-dir); "" turns
	// backups off.
	BackupDir string
	// BackupS3 is an S3-compatible target instead (--backup-s3 URL); its
	// credentials are the shared secret berth.yaml backups.s3_secret
	// names.
	BackupS3 string
	// BackupS3Options are its deadlines (zero: the defaults).
	BackupS3Options backup.S3Options
	// BackupIdentities open snapshots for a restore (the --identity files).
	BackupIdentities []age.Identity
	// Committer commits image updates (source.update) to the config repo;
	// nil turns them off.
	Committer committer
	// PullRequests opens pull requests for push: pull-request updates.
	PullRequests pullRequester
	// StatsInterval is how often containers' use is sampled for the
	// status list and /metrics (--stats-interval; 0 or less: never).
	StatsInterval time.Duration
}

// puller is the config repo as the tick uses it.
type puller interface {
	Pull(ctx context.Context) (string, error)
	Dir() string
	URL() string
	Branch() string
}

// Agent is one host's Berth.
type Agent struct {
	opts    Options
	repo    puller
	store   *store.Store
	docker  Docker
	engine  *engine.Engine
	events  *eventLog
	report  *reporter
	secrets *sharedSecrets
	apps    *appRepos
	log     *slog.Logger

	tickMu  sync.Mutex // ticks never overlap
	trigger chan struct{}
	cache   loaded // the last rendered commit, reused while HEAD stays put
	target  atomic.Pointer[targetState]
	backups backupHealth
	maint   map[string]bool // operator maintenance overrides; nil until read
	usage   usageCache
	// loadedDesired is the last loaded config, for readers that must not
	// wait for a tick (the API's list).
	loadedDesired atomic.Pointer[gitops.Desired]
	lastSuccess   atomic.Int64 // Unix nanoseconds of the last tick that pulled, loaded and acted
	interval      time.Duration
	metrics       *metrics
	prunedAt      time.Time      // when the event log was last pruned
	rejected      string         // the last config commit that failed signature verification
	view          *containerView // nil when the Docker client cannot stream events
	loginSum      string         // the registry logins in use, hashed
	loginsMu      sync.Mutex
	logins        map[string]update.Login // by host, for image-update checks
	imgUpdates    updates
	retryNow      bool            // the logins changed: the next decide ends backoffs
	fleet         fleetCache      // the status branch, read for /api/fleet and moves
	moving        map[string]bool // workloads that moved away, kept until they serve elsewhere
	jobs          jobs            // the job workloads' schedule and runs
	jobsChanged   atomic.Bool     // a job started or stopped failing: the next tick reports it
	nodes         swarmNodes      // what the tick knows of Swarm's nodes and tasks
	previews      previews
}

// New wires an agent. The store and docker client stay owned by the caller.
func New(opts Options, repo puller, st *store.Store, d Docker, log *slog.Logger) *Agent {
	opts = withDefaults(opts)
	eo := opts.Engine
	if opts.Router != nil {
		eo.Router = opts.Router
	}
	eo.Now = opts.Now
	eo.StateID = opts.StateID
	var a *Agent
	eo.Keep = func(ctx context.Context, w *sources.Workload, c docker.Container, reason string) {
		a.keepLogs(ctx, w, c, reason)
	}
	eo.Compose, eo.Swarm, eo.Projects, eo.Policy = opts.Compose, opts.Swarm, d, opts.Policy
	resolver := opts.Secrets
	if resolver == nil {
		resolver = secrets.NewResolver(nil, nil, opts.Redactor)
	}
	events := newEventLog(st, log, opts.Redactor)
	events.notify = &notifications{sender: notify.NewSender(opts.Policy.Allows(policy.PrivateNotify)), agent: opts.Name,
		events: events, timeout: 10 * time.Second, sent: map[string]bool{}}
	a = &Agent{
		opts:    opts,
		repo:    repo,
		store:   st,
		docker:  d,
		engine:  engine.New(d, opts.Name, log, eo),
		events:  events,
		secrets: &sharedSecrets{resolver: resolver, key: opts.SecretKey},
		apps:    &appRepos{open: opts.AppRepo, log: log, states: map[string]appState{}, timeout: opts.Timeouts.Git},
		log:     log,
		trigger: make(chan struct{}, 1),
		report: &reporter{
			agent: opts.Name, events: events, status: opts.Status, log: log, gitTimeout: opts.Timeouts.Git,
			labels: opts.Labels, heartbeat: opts.Heartbeat, now: opts.Now, meta: st, interval: interval(opts.Schedule, opts.Now()),
			statuses: &commitStatuses{forge: opts.Forge, agent: opts.Name, events: events, posted: map[string]string{}, timeout: opts.Timeouts.Forge},
		},
		interval: interval(opts.Schedule, opts.Now()),
		nodes:    swarmNodes{started: opts.Now(), reported: map[string]bool{}},
	}
	if w, ok := d.(containerWatcher); ok {
		a.view = newContainerView(w, opts.Name, opts.Resync, log)
		a.view.onOOM = a.containerOOM
	}
	a.metrics = newMetrics(a)
	a.report.backups = a.volumeBackups
	return a
}

// Flush waits (until ctx ends) for the commit statuses and notifications
// still queued: `berth sync` flushes before it exits.
func (a *Agent) Flush(ctx context.Context) {
	a.report.statuses.flush(ctx)
	a.events.notify.flush(ctx)
}

func withDefaults(opts Options) Options {
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Schedule == "" {
		opts.Schedule = "@every 1m"
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 2 * time.Minute
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 10 * time.Minute
	}
	if opts.Resync <= 0 {
		opts.Resync = 10 * time.Minute
	}
	if opts.StaticServer == "" {
		opts.StaticServer = static.DefaultServer()
	}
	if opts.Redactor == nil {
		opts.Redactor = secrets.NewRedactor()
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	if opts.KeepReleases <= 0 {
		opts.KeepReleases = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Timeouts = opts.Timeouts.withDefaults()
	if opts.EventsMaxAge <= 0 {
		opts.EventsMaxAge = 720 * time.Hour
	}
	return opts
}

func (a *Agent) now() time.Time { return a.opts.Now() }

// configRoot is the config folder of the checkout on disk.
func (a *Agent) configRoot() string {
	return filepath.Join(a.repo.Dir(), filepath.FromSlash(a.opts.Path))
}

// Trigger asks for a tick as soon as the current one (if any) ends.
// Triggers while one is pending coalesce.
func (a *Agent) Trigger() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

// Run ticks at once, then on the schedule and on every Trigger, until ctx
// is done. The HTTP face (agent/api) is served beside it by the caller. A tick in flight when ctx ends is finished (within
// ShutdownGrace), then Run returns.
func (a *Agent) Run(ctx context.Context) error {
	sched, err := cron.ParseStandard(a.opts.Schedule)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", a.opts.Schedule, err)
	}
	c := cron.New()
	c.Schedule(sched, cron.FuncJob(a.Trigger))
	c.Start()
	defer c.Stop()
	a.Watch(ctx)
	a.log.Info("agent started", "agent", a.opts.Name, "repo", a.repo.URL(), "branch", a.repo.Branch(), "schedule", a.opts.Schedule)
	go a.jobLoop(ctx)
	go a.updateLoop(ctx)
	go a.usageLoop(ctx)
	a.loop(ctx)
	a.stopJobs()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.Timeouts.Forge)
	a.Flush(fctx)
	cancel()
	a.log.Info("agent stopped")
	return nil
}

// Watch keeps the agent's containers in memory from Docker's event stream
// until ctx ends, so idle ticks make no Docker call. Run calls it; a
// one-shot sync does not (it lists once).
func (a *Agent) Watch(ctx context.Context) {
	if a.view != nil {
		go a.view.run(ctx)
	}
}

// containersChanged says that this agent changed containers itself: the
// next snapshot lists instead of racing the events of those changes.
func (a *Agent) containersChanged() {
	if a.view != nil {
		a.view.stale()
	}
}

// loop runs ticks until ctx ends. The tick's context outlives ctx by
// ShutdownGrace, so SIGTERM lets the deploy in flight finish instead of
// leaving it half done.
func (a *Agent) loop(ctx context.Context) {
	tickCtx, cancelTicks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTicks()
	go func() {
		<-ctx.Done()
		t := time.NewTimer(a.opts.ShutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelTicks()
		case <-tickCtx.Done():
		}
	}()
	a.Trigger()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.trigger:
			if ctx.Err() != nil {
				continue
			}
			if _, err := a.Tick(tickCtx); err != nil {
				a.log.Warn("tick failed", "error", err)
			}
		}
	}
}

// Ready says whether a tick succeeded recently enough, by the agent's
// clock (/readyz).
func (a *Agent) Ready() (bool, string) { return a.readiness(a.now()) }

// Subscribe streams new events until the returned func is called.
func (a *Agent) Subscribe() (<-chan store.Event, func()) { return a.events.subscribe() }

// SharedSecrets lists the shared secrets of the last loaded commit: scope,
// app, name and whether a value could be decrypted. Never a value:
// secrets change only through reviewed commits (`berth secrets set`).
func (a *Agent) SharedSecrets() []SharedSecret { return a.secrets.list() }

// Metrics is the agent's Prometheus registry.
func (a *Agent) Metrics() prometheus.Gatherer { return a.metrics.reg }

// Branch is the watched branch of the config repo.
func (a *Agent) Branch() string { return a.repo.Branch() }
