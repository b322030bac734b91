// Package agenttest is the one test harness of the agent, the CLI and the
// benchmarks: a config repo on a real git smart-HTTP server, a state dir,
// the real Docker daemon, a unique agent name, and helpers to read what
// the agent did.
package agenttest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/statedir"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
)

// Harness is one agent's world.
type Harness struct {
	T        testing.TB
	Server   *gitserver.Server
	Repo     *gitserver.Repo
	Docker   *docker.Client
	StateDir string
	Name     string // the agent name; every container it labels is removed after the test
	Image    string // the hello server image, tag v1
	App      string // a unique app name: container names stay unique across tests
	// Log overrides the default logger (discard, or stderr with -v).
	Log *slog.Logger
	// StaticServer is the binary static-site images run (berth-site).
	StaticServer string
	// Signers, when set, must sign the config commits the agent deploys.
	Signers *gitops.Signers
	// StateID is the state dir's identity, the same for every agent the
	// harness builds (as for a restarted process).
	StateID string
}

// WithSiteServer sets StaticServer to the test process's berth-site.
func (h *Harness) WithSiteServer() *Harness {
	h.StaticServer = SiteServer(h.T)
	return h
}

// New starts a harness; without a Docker daemon the test is skipped
// (failed in CI).
func New(t testing.TB) *Harness {
	t.Helper()
	d := dockertest.Docker(t)
	h := &Harness{
		T:        t,
		Docker:   d,
		StateDir: t.TempDir(),
		Name:     dockertest.AgentName(t),
		Image:    dockertest.Image(t, "v1"),
	}
	h.App = "a" + h.Name[2:]
	h.Server = gitserver.Start(t)
	h.Repo = h.Server.NewRepo(t, "config")
	id, err := statedir.ID(h.StateDir)
	require.NoError(t, err)
	h.StateID = id
	return h
}

// Agent returns a new agent on the harness's state dir, as a restarted
// process would build it.
func (h *Harness) Agent(opts agent.Options) (*agent.Agent, *store.Store) {
	h.T.Helper()
	return h.AgentWith(opts, h.Docker)
}

// Start pushes what the test wrote, builds an agent and runs its first
// tick, which must succeed.
func (h *Harness) Start(msg string, opts agent.Options) (*agent.Agent, *store.Store) {
	h.T.Helper()
	h.Repo.Push(msg)
	a, st := h.Agent(opts)
	_, err := a.Tick(context.Background())
	require.NoError(h.T, err)
	return a, st
}

// AgentWith builds an agent that talks to Docker through d.
func (h *Harness) AgentWith(opts agent.Options, d agent.Docker) (*agent.Agent, *store.Store) {
	h.T.Helper()
	repo, err := gitops.NewRepo(h.Repo.URL, "main", filepath.Join(h.StateDir, "repo"), gitops.Credentials{})
	require.NoError(h.T, err)
	repo.Signers = h.Signers
	return h.build(opts, repo, d)
}

// AgentOn builds an agent of the harness on another config repo.
func (h *Harness) AgentOn(repo *gitops.Repo, opts agent.Options) *agent.Agent {
	h.T.Helper()
	a, _ := h.build(opts, repo, h.Docker)
	return a
}

// AgentAndStoreOn is AgentOn with the agent's store.
func (h *Harness) AgentAndStoreOn(repo *gitops.Repo, opts agent.Options) (*agent.Agent, *store.Store) {
	h.T.Helper()
	return h.build(opts, repo, h.Docker)
}

func (h *Harness) build(opts agent.Options, repo *gitops.Repo, d agent.Docker) (*agent.Agent, *store.Store) {
	h.T.Helper()
	st, err := store.Open(context.Background(), filepath.Join(h.StateDir, "berth.db"))
	require.NoError(h.T, err)
	h.T.Cleanup(func() { st.Close() })
	opts.Name = h.Name
	opts.StaticServer = h.StaticServer
	if opts.StateDir == "" {
		opts.StateDir = h.StateDir
	}
	if opts.StateID == "" {
		opts.StateID = h.StateID
	}
	opts.Compose = &engine.Compose{Dir: filepath.Join(h.StateDir, "compose"), Env: engine.CLIEnv(os.Environ(), ""), Wait: 30 * time.Second}
	if sd, ok := d.(engine.SwarmAPI); ok {
		opts.Swarm = &engine.Swarm{Stack: opts.Compose, API: sd, Poll: 500 * time.Millisecond}
	}
	opts.AppRepo = func(url, branch, name string) (agent.AppRepo, error) {
		return gitops.NewRepo(url, branch, filepath.Join(h.StateDir, "apps", name), gitops.Credentials{})
	}
	if opts.Engine.LivenessWindow == 0 {
		opts.Engine.LivenessWindow = 300 * time.Millisecond // keep the suite quick
	}
	if opts.Engine.Drain == 0 {
		opts.Engine.Drain = 100 * time.Millisecond
	}
	return agent.New(opts, repo, st, d, h.logger()), st
}

func (h *Harness) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// ID is the workload id of name in the harness's app.
func (h *Harness) ID(name string) string { return h.App + "/" + name }

// Workload writes a workload file of the harness's app (not yet pushed).
func (h *Harness) Workload(name, yaml string) {
	h.Repo.Write(fmt.Sprintf("apps/%s/%s.yaml", h.App, name), yaml)
}

// Containers lists the agent's containers by workload id.
func (h *Harness) Containers() map[string][]docker.Container {
	h.T.Helper()
	cs, err := h.Docker.List(context.Background(), h.Name)
	require.NoError(h.T, err)
	out := map[string][]docker.Container{}
	for _, c := range cs {
		out[c.Workload()] = append(out[c.Workload()], c)
	}
	return out
}

// RequireOnlyRunning checks that the workload's one container is still
// the one with id, and running.
func (h *Harness) RequireOnlyRunning(t testing.TB, name, id string) {
	t.Helper()
	cs := h.Containers()[h.ID(name)]
	require.Len(t, cs, 1)
	assert.Equal(t, id, cs[0].ID)
	assert.True(t, cs[0].Running())
}

// Web is an image workload with a MESSAGE, deployed by recreate.
func Web(image, msg string) string {
	return fmt.Sprintf(`source:
  type: image
  image: %s
  deploy_strategy: recreate
env:
  MESSAGE: %q
port: 8080
`, image, msg)
}

// Rows reads every runtime row, by workload id.
func Rows(t testing.TB, st *store.Store) map[string]store.Runtime {
	t.Helper()
	rows, err := st.ListRuntime(context.Background())
	require.NoError(t, err)
	out := map[string]store.Runtime{}
	for _, r := range rows {
		out[r.WorkloadID] = r
	}
	return out
}

// Get fetches / from a workload's upstream, retrying while the server in
// the fresh container starts (bounded: 5 s).
func Get(t testing.TB, upstream string) string {
	t.Helper()
	var lastErr error
	for range 50 {
		resp, err := http.Get("http://" + upstream + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", upstream, lastErr)
	return ""
}

// Events lists a workload's events, oldest first.
func Events(t testing.TB, st *store.Store, workload string) []store.Event {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{WorkloadID: workload, Limit: 1000, Ascending: true})
	require.NoError(t, err)
	return evs
}

// Kinds lists the events' kinds.
func Kinds(evs []store.Event) []agent.EventKind {
	var out []agent.EventKind
	for _, e := range evs {
		out = append(out, agent.EventKind(e.Kind))
	}
	return out
}

var (
	berthOnce sync.Once
	berthPath string
	berthErr  error
)

// Berth returns a statically linked berth binary (the CLI the tests run),
// with berth-site (the server of static-site images) beside it, as they
// ship; built once per test process on first use. RemoveBerth deletes
// them; call it from TestMain.
func Berth(t testing.TB) string {
	t.Helper()
	berthOnce.Do(func() {
		if berthPath, berthErr = dockertest.BuildStatic("./cmd/berth", "berth"); berthErr == nil {
			berthErr = dockertest.BuildStaticInto("./cmd/berth-site", filepath.Join(filepath.Dir(berthPath), "berth-site"))
		}
	})
	if berthErr != nil {
		t.Fatal(berthErr)
	}
	return berthPath
}

// SiteServer returns the berth-site binary built beside Berth's.
func SiteServer(t testing.TB) string {
	return filepath.Join(filepath.Dir(Berth(t)), "berth-site")
}

// RemoveBerth deletes the binaries Berth built.
func RemoveBerth() {
	if berthPath != "" {
		_ = os.RemoveAll(filepath.Dir(berthPath))
	}
}

// API is the HTTP face of a, reading st, as `berth agent` serves it
// (without a token or webhook secret).
func API(a *agent.Agent, st *store.Store) http.Handler {
	return api.New(a, st, slog.New(slog.DiscardHandler), api.Options{Branch: a.Branch()}).Handler()
}
