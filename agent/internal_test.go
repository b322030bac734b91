package agent

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
)

// testAgent is an agent on a real SQLite file with no repo and no Docker:
// enough for the API, the reporter and the decisions.
func testAgent(t testing.TB, opts Options) (*Agent, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	if opts.Name == "" {
		opts.Name = "host-a"
	}
	return New(opts, noRepo{}, st, nil, slog.New(slog.DiscardHandler)), st
}

// noRepo is the config repo of agents that never tick: it names the
// watched branch and has nothing to pull.
type noRepo struct{}

func (noRepo) Pull(context.Context) (string, error) { return "", errors.New("no repo in this test") }
func (noRepo) Dir() string                          { return "" }
func (noRepo) URL() string                          { return "" }
func (noRepo) Branch() string                       { return "main" }

func allEvents(t *testing.T, st *store.Store) []store.Event {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{Limit: 1000, Ascending: true})
	require.NoError(t, err)
	return evs
}
