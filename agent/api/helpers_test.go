package api

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
)

// testAgent is a real agent (on a real SQLite file, with no repo and no
// Docker) whose ticks the test observes instead of running, and whose
// readiness and event stream the test may set.
type testAgent struct {
	*agent.Agent
	triggers chan struct{}
	ready    func() (bool, string)
	events   chan store.Event
	previews bool // PreviewsOn
}

func (a *testAgent) PreviewsOn() bool { return a.previews }

func (a *testAgent) Trigger() {
	select {
	case a.triggers <- struct{}{}:
	default:
	}
}

func (a *testAgent) Ready() (bool, string) {
	if a.ready != nil {
		return a.ready()
	}
	return a.Agent.Ready()
}

func (a *testAgent) Subscribe() (<-chan store.Event, func()) {
	if a.events != nil {
		return a.events, func() {}
	}
	return a.Agent.Subscribe()
}

// testServer is the HTTP face of a testAgent.
func testServer(t testing.TB, ao agent.Options, opts Options) (*Server, *testAgent, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	if ao.Name == "" {
		ao.Name = "host-a"
	}
	log := slog.New(slog.DiscardHandler)
	ta := &testAgent{Agent: agent.New(ao, noRepo{}, st, nil, log), triggers: make(chan struct{}, 1)}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	return New(ta, st, log, opts), ta, st
}

// noRepo is the config repo of agents that never tick.
type noRepo struct{}

func (noRepo) Pull(context.Context) (string, error) { return "", errors.New("no repo in this test") }
func (noRepo) Dir() string                          { return "" }
func (noRepo) URL() string                          { return "" }
func (noRepo) Branch() string                       { return "main" }
