// Package agent runs Berth's loop: on a schedule (and on demand) it pulls
// the config repo, deploys what changed, reconciles what runs, and serves
// the HTTP API.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/berthops/berth/sources/router"
)

// Options are the agent's settings; zero values take the defaults.
type Options struct {
	Name       string // agent name: owns containers labelled berth.agent=<Name>
	Path       string // config sub-folder inside the repo
	AllowEmpty bool   // allow pruning every workload when the repo renders none
	SelfHeal   bool   // redeploy a workload whose container vanished
	Parallel   int    // deploys at once; default 4
	Schedule   string // robfig/cron spec; default "@every 1m"
	Listen     string // HTTP API address; "" for none
	Token      string // bearer token the API asks for; "" for none
	// WebhookSecret authenticates POST /hooks/git; "" turns it off.
	WebhookSecret string
	// ShutdownGrace is how long the tick in flight may run on after the
	// agent is told to stop; default 2m.
	ShutdownGrace time.Duration
	// Router is the proxy's route table; nil when no proxy is managed.
	Router *router.Router
	// LivenessWindow, Drain and Failpoint go to the deploy engine.
	LivenessWindow time.Duration
	Drain          time.Duration
	Failpoint      string
	// StaticServer is a statically linked berth binary that static-site
	// images run; default: this executable.
	StaticServer string
	// AppRepo opens the clone of a dockerfile workload's app repo; nil
	// makes such workloads fail with a clear error.
	AppRepo func(url, branch, name string) (AppRepo, error)
	// Compose runs docker compose for compose workloads; nil makes them
	// fail with a clear error.
	Compose *compose.Stack
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
}

// AppRepo is a dockerfile workload's app repo as the agent uses it.
type AppRepo interface {
	Pull(ctx context.Context) (string, error)
	Dir() string
}

// puller is the config repo as the tick uses it.
type puller interface {
	Pull(ctx context.Context) (string, error)
	Dir() string
	URL() string
	Branch() string
}

// docker is what the agent needs from Docker: the snapshot, image
// preparation, and the container calls the deploy engine makes.
type docker interface {
	List(ctx context.Context, agent string) ([]sources.Container, error)
	ImageID(ctx context.Context, ref string) (string, error)
	Pull(ctx context.Context, ref string) error
	Create(ctx context.Context, spec sources.RunSpec) (string, error)
	Start(ctx context.Context, id string, port int) (sources.Container, error)
	Stop(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string, grace time.Duration) error
	Rename(ctx context.Context, id, name string) error
	Inspect(ctx context.Context, id string, port int) (sources.Container, error)
	HasImage(ctx context.Context, ref string) (bool, error)
	ImageEnv(ctx context.Context, ref string) ([]string, error)
	Build(ctx context.Context, buildCtx io.Reader, spec sources.BuildSpec, out func(line string)) error
}

// Agent is one host's Berth.
type Agent struct {
	opts   Options
	repo   puller
	store  *store.Store
	docker docker
	engine *sources.Engine
	events *events
	log    *slog.Logger

	tickMu  sync.Mutex // ticks never overlap
	trigger chan struct{}
	cache   loaded // the last rendered commit, reused while HEAD stays put
	ready   atomic.Bool
	apps    map[string]appState // dockerfile app repos by workload id

	resolver   *secrets.Resolver
	layers     map[string]map[string]string // shared-secret env by workload id, in memory only
	secretFail map[string]string            // workloads failed by secrets.on_error: fail
	// secretsView is what GET /api/shared-secrets answers.
	secretsView atomic.Pointer[[]SharedSecret]
	statuses    *commitStatuses
}

type appState struct {
	dir, commit string
	err         error
}

// New wires an agent. The store and docker client stay owned by the caller.
func New(opts Options, repo puller, st *store.Store, d docker, log *slog.Logger) *Agent {
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Schedule == "" {
		opts.Schedule = "@every 1m"
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 2 * time.Minute
	}
	if opts.StaticServer == "" {
		opts.StaticServer, _ = os.Executable()
	}
	if opts.Redactor == nil {
		opts.Redactor = secrets.NewRedactor()
	}
	resolver := opts.Secrets
	if resolver == nil {
		resolver = secrets.NewResolver(nil, nil, opts.Redactor)
	}
	eo := sources.EngineOptions{LivenessWindow: opts.LivenessWindow, Drain: opts.Drain, Failpoint: opts.Failpoint}
	if opts.Router != nil {
		eo.Router = opts.Router
	}
	a := &Agent{
		opts:    opts,
		repo:    repo,
		store:   st,
		docker:  d,
		engine:  sources.NewEngine(d, opts.Name, log, eo),
		events:  newEvents(st, log, opts.Redactor),
		log:     log,
		trigger: make(chan struct{}, 1),
		apps:    map[string]appState{},

		resolver: resolver,
	}
	a.statuses = &commitStatuses{forge: opts.Forge, agent: opts.Name, events: a.events, posted: map[string]string{}}
	return a
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
// is done. A tick in flight when ctx ends is finished (within
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

	if a.opts.Listen != "" {
		ln, err := net.Listen("tcp", a.opts.Listen)
		if err != nil {
			return fmt.Errorf("API listen %s: %w", a.opts.Listen, err)
		}
		srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("API server stopped", "error", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		a.log.Info("API listening", "addr", ln.Addr().String())
	}

	// The tick's context outlives ctx by ShutdownGrace, so SIGTERM lets
	// the deploy in flight finish instead of leaving it half done.
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

	a.log.Info("agent started", "agent", a.opts.Name, "repo", a.repo.URL(), "branch", a.repo.Branch(), "schedule", a.opts.Schedule)
	a.Trigger()
	for {
		select {
		case <-ctx.Done():
			a.log.Info("agent stopped")
			return nil
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
