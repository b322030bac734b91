package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
)

func open(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func TestRuntimeRoundTripAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	ctx := context.Background()
	st := open(t, path)
	require.NoError(t, st.PutRuntime(ctx, store.Runtime{WorkloadID: "shop/web", ContainerID: "c1", Status: store.StatusRunning, AppliedHash: "h1"}))
	require.NoError(t, st.PutRuntime(ctx, store.Runtime{WorkloadID: "blog/site", Status: store.StatusFailed}))
	require.NoError(t, st.PutRuntime(ctx, store.Runtime{WorkloadID: "shop/web", ContainerID: "c2", Status: store.StatusRunning, AppliedHash: "h2"}))

	again := open(t, path) // migrations are applied once; data survives
	rows, err := again.ListRuntime(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "blog/site", rows[0].WorkloadID)
	assert.Equal(t, "c2", rows[1].ContainerID)
	assert.Equal(t, "h2", rows[1].AppliedHash)

	require.NoError(t, again.DeleteRuntime(ctx, "blog/site"))
	rows, err = again.ListRuntime(ctx)
	require.NoError(t, err)
	assert.Len(t, rows, 1)
}

func TestEventsFilterAndCap(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "berth.db"))
	long := strings.Repeat("ü", 300)
	for i, wl := range []string{"a/x", "a/y", "a/x", "a/x"} {
		sev := store.SeverityInfo
		if i == 3 {
			sev = store.SeverityError
		}
		_, err := st.AddEvent(ctx, store.Event{WorkloadID: wl, Kind: "deploy.started", Severity: sev, Message: long, Metadata: map[string]string{"workload_id": wl}})
		require.NoError(t, err)
	}
	evs, err := st.Events(ctx, store.EventFilter{WorkloadID: "a/x"})
	require.NoError(t, err)
	require.Len(t, evs, 3)
	assert.Greater(t, evs[0].ID, evs[1].ID, "newest first")
	assert.Equal(t, store.MaxMessageRunes, utf8.RuneCountInString(evs[0].Message))
	assert.True(t, utf8.ValidString(evs[0].Message))
	assert.Equal(t, "a/x", evs[0].Metadata["workload_id"])

	page, err := st.Events(ctx, store.EventFilter{WorkloadID: "a/x", Before: evs[0].ID, Limit: 1})
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, evs[1].ID, page[0].ID)

	errs, err := st.Events(ctx, store.EventFilter{Severity: store.SeverityError})
	require.NoError(t, err)
	assert.Len(t, errs, 1)
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"short", "abc", "abc", 5},
		{"exact", "abcde", "abcde", 5},
		{"ascii", "abcdef", "abcd…", 5},
		{"multibyte", "日本語のテキスト", "日本語の…", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, store.Truncate(tc.in, tc.n))
		})
	}
}

func TestPruneEventsByAgeAndCap(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "berth.db"))
	old := time.Now().Add(-48 * time.Hour)
	for i := range 5 {
		_, err := st.AddEvent(ctx, store.Event{WorkloadID: "a/x", Kind: "k", Message: "old", Time: old.Add(time.Duration(i) * time.Second)})
		require.NoError(t, err)
	}
	for i := range 7 {
		_, err := st.AddEvent(ctx, store.Event{WorkloadID: "a/x", Kind: "k", Message: fmt.Sprint("new ", i)})
		require.NoError(t, err)
		_, err = st.AddEvent(ctx, store.Event{WorkloadID: "a/y", Kind: "k", Message: "y"})
		require.NoError(t, err)
	}
	n, err := st.PruneEvents(ctx, time.Now().Add(-24*time.Hour), 4)
	require.NoError(t, err)
	assert.Equal(t, int64(5+3+3), n)
	x, err := st.Events(ctx, store.EventFilter{WorkloadID: "a/x", Limit: 100})
	require.NoError(t, err)
	require.Len(t, x, 4)
	assert.Equal(t, "new 6", x[0].Message, "the newest are kept")
	assert.Equal(t, "new 3", x[3].Message)
}

func TestCountEventCoalescesRepeats(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "berth.db"))
	for range 3 {
		_, err := st.CountEvent(ctx, store.Event{Kind: "sync.failed", Severity: store.SeverityError, Message: "git down"})
		require.NoError(t, err)
	}
	_, err := st.CountEvent(ctx, store.Event{Kind: "sync.failed", Severity: store.SeverityError, Message: "something else"})
	require.NoError(t, err)
	evs, err := st.Events(ctx, store.EventFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, 1, evs[0].Count)
	assert.Equal(t, 3, evs[1].Count, "three identical failures are one event with a count")
}

// TestListRuntimeSeesEveryWriter: ListRuntime answers from memory while
// nothing was written, and sees at once what this store, or another one on
// the same file (another process), wrote.
func TestListRuntimeSeesEveryWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "berth.db")
	a, b := open(t, path), open(t, path)
	ids := func(s *store.Store) map[string]string {
		rows, err := s.ListRuntime(ctx)
		require.NoError(t, err)
		out := map[string]string{}
		for _, r := range rows {
			out[r.WorkloadID] = r.Status
		}
		return out
	}
	assert.Empty(t, ids(a))
	require.NoError(t, b.PutRuntime(ctx, store.Runtime{WorkloadID: "shop/web", Status: store.StatusRunning}))
	assert.Equal(t, map[string]string{"shop/web": store.StatusRunning}, ids(a), "another store's write")
	require.NoError(t, a.PutRuntime(ctx, store.Runtime{WorkloadID: "shop/web", Status: store.StatusMissing}))
	assert.Equal(t, map[string]string{"shop/web": store.StatusMissing}, ids(a), "its own write")
	q := a.Queries()
	assert.Equal(t, map[string]string{"shop/web": store.StatusMissing}, ids(a))
	assert.Equal(t, int64(1), a.Queries()-q, "an unchanged table costs one statement")
	require.NoError(t, b.DeleteRuntime(ctx, "shop/web"))
	assert.Empty(t, ids(a), "another store's delete")
}
