package agent

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
)

type recordingForge struct {
	mu    sync.Mutex
	posts []forge.Status
	fail  bool
}

func (r *recordingForge) Post(_ context.Context, s forge.Status) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("forge down")
	}
	r.posts = append(r.posts, s)
	return nil
}

func (r *recordingForge) setFail(v bool) {
	r.mu.Lock()
	r.fail = v
	r.mu.Unlock()
}

func (r *recordingForge) list() []forge.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]forge.Status(nil), r.posts...)
}

func TestCommitStatusesNeverFlap(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	require.NoError(t, err)
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	rec := &recordingForge{}
	c := &commitStatuses{forge: rec, agent: "host-a", events: newEventLog(st, log, nil), posted: map[string]string{}, timeout: time.Second}
	ctx := context.Background()

	c.set(ctx, "sha1", "shop/web", forge.Pending, "deploying")
	c.set(ctx, "sha1", "shop/web", forge.Pending, "deploying") // unchanged: not re-posted
	c.set(ctx, "sha1", "shop/web", forge.Success, "deployed")
	c.set(ctx, "sha1", "shop/web", forge.Pending, "redeploying") // after success: never
	c.set(ctx, "sha1", "shop/web", forge.Failure, "failed")      // after success: never
	c.set(ctx, "sha2", "shop/web", forge.Failure, "failed")      // another commit: yes
	c.flush(ctx)
	var got []string
	for _, p := range rec.list() {
		got = append(got, p.SHA+" "+p.Context+" "+p.State)
	}
	assert.Equal(t, []string{
		"sha1 berth/host-a/shop/web pending",
		"sha1 berth/host-a/shop/web success",
		"sha2 berth/host-a/shop/web failure",
	}, got)

	// A forge that is down is a warning event, not a failure; the state is
	// posted again next time.
	rec.setFail(true)
	c.set(ctx, "sha3", "shop/web", forge.Pending, "deploying")
	c.flush(ctx)
	evs, err := st.Events(ctx, store.EventFilter{Severity: store.SeverityWarn})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, string(KindCommitStatusFailed), evs[0].Kind)
	rec.setFail(false)
	c.set(ctx, "sha3", "shop/web", forge.Pending, "deploying")
	c.flush(ctx)
	assert.Equal(t, "sha3", rec.list()[len(rec.list())-1].SHA)
}
