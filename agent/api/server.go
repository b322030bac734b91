// Package api is the agent's HTTP face: the JSON API, the live event
// stream, the web UI and its sessions, the webhook receiver, badges, the
// fleet view and metrics. It talks to the reconciler through Agent and
// reads the state store directly; it never deploys anything itself.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
)

// Agent is what the HTTP face asks of the reconciler.
type Agent interface {
	// Trigger asks for a tick (POST /api/sync, webhooks).
	Trigger()
	// Ready says whether a tick succeeded recently enough, by the agent's
	// clock (/readyz).
	Ready() (bool, string)
	// Subscribe streams new events until the returned func is called.
	Subscribe() (<-chan store.Event, func())
	// SharedSecrets lists the shared secrets, never a value.
	SharedSecrets() []agent.SharedSecret
	// Fleet reads the status branch (ErrNoFleet when there is none).
	Fleet(ctx context.Context) (*gitops.Fleet, error)
	// Metrics is the agent's Prometheus registry.
	Metrics() prometheus.Gatherer
	// The operator's actions.
	Releases(ctx context.Context, id string) ([]agent.ReleaseView, error)
	Rollback(ctx context.Context, id, to string) (agent.Outcome, error)
	RollbackWith(ctx context.Context, id, to string, withData bool) (agent.Outcome, error)
	Suspend(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Retry(ctx context.Context, id string) error
	RunJob(ctx context.Context, id string) error
	Backup(ctx context.Context, id, volume string) ([]store.Backup, error)
	Restore(ctx context.Context, id, volume string, snapshot int64) (agent.Outcome, error)
	// Logs writes a workload's output a line at a time (redacted).
	Logs(ctx context.Context, id string, req agent.LogRequest, emit func(line string) error) error
	// Usage samples a workload's containers now; SampledUsage is the last
	// interval sample of all.
	Usage(ctx context.Context, id string) ([]docker.Usage, error)
	SampledUsage() map[string][]docker.Usage
	// RouteHosts are the hosts each workload's route serves.
	RouteHosts() map[string][]string
	// SetMaintenance turns an operator's maintenance override on or off.
	SetMaintenance(ctx context.Context, id string, on bool) error
	// Updates lists what image-update policies found (berth updates).
	Updates() []agent.PendingUpdate
	// Previews lists the preview environments (berth previews);
	// PreviewsOn says whether any are configured.
	Previews() []agent.Preview
	PreviewsOn() bool
	// Tick runs one tick now (after any running one) and returns it.
	Tick(ctx context.Context) (*agent.TickResult, error)
}

var _ Agent = (*agent.Agent)(nil)

// Options are the HTTP face's settings.
type Options struct {
	// Listen is the API's address; the Host check accepts its name.
	Listen string
	// APIHosts are the names the API answers to besides localhost and IP
	// addresses (--api-host).
	APIHosts []string
	// Token is the bearer token the API asks for; "" for none.
	Token string
	// CommitURL is the forge's web address of a commit, "{sha}" in it,
	// for the UI's links ("" for none).
	CommitURL string
	// WebhookSecret authenticates POST /hooks/git; "" turns it off.
	WebhookSecret string
	// Branch is the watched branch: pushes to others do not tick.
	Branch string
	// Redact masks secret values in error answers; nil leaves them.
	Redact func(string) string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Server serves the HTTP face of one agent.
type Server struct {
	agent    Agent
	store    *store.Store
	opts     Options
	log      *slog.Logger
	sessions sessions
	streams  atomic.Int64  // open event streams
	hooks    chan struct{} // webhook bodies being read (hookReads)
	guesses  guesses       // wrong tokens by client, for backoff
}

// New returns the HTTP face of a, reading st.
func New(a Agent, st *store.Store, log *slog.Logger, opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Redact == nil {
		opts.Redact = func(s string) string { return s }
	}
	return &Server{agent: a, store: st, opts: opts, log: log, sessions: sessions{byID: map[string]time.Time{}},
		hooks: make(chan struct{}, hookReads)}
}

func (s *Server) now() time.Time { return s.opts.Now() }

func (s *Server) metrics() http.Handler {
	return promhttp.HandlerFor(s.agent.Metrics(), promhttp.HandlerOpts{})
}

// fleet serves GET /api/fleet: every agent and workload on the status
// branch, and the agents gone quiet.
func (s *Server) fleet(w http.ResponseWriter, r *http.Request) {
	f, err := s.agent.Fleet(r.Context())
	switch {
	case errors.Is(err, agent.ErrNoFleet) || errors.Is(err, gitops.ErrNoStatusBranch):
		w.WriteHeader(http.StatusNotFound)
		writeJSON(w, map[string]string{"error": err.Error()})
		return
	case err != nil:
		s.log.Warn("API: reading the fleet failed", "error", err)
		w.WriteHeader(http.StatusBadGateway)
		writeJSON(w, map[string]string{"error": s.opts.Redact(err.Error())})
		return
	}
	writeJSON(w, f)
}

// Serve starts an HTTP listener on addr; stop shuts it down. Slow clients
// are cut off: headers within 10s, a whole request (a webhook body)
// within a minute. Responses (event streams) are not bounded.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("API listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server stopped", "error", err)
		}
	}()
	log.Info("API listening", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
