package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
)

// testAgent is an agent on a real SQLite file with no repo and no Docker:
// enough for the API, the reporter and the decisions.
func testAgent(t *testing.T, opts Options) (*Agent, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	if opts.Name == "" {
		opts.Name = "host-a"
	}
	return New(opts, nil, st, nil, slog.New(slog.DiscardHandler)), st
}

func allEvents(t *testing.T, st *store.Store) []store.Event {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{Limit: 1000, Ascending: true})
	require.NoError(t, err)
	return evs
}
