package agent

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
)

// TestReadinessWatchdog: not ready until a tick succeeds, ready after,
// and not ready again when no tick has succeeded for 3 × the schedule
// interval + the git timeout.
func TestReadinessWatchdog(t *testing.T) {
	now := time.Now()
	a, _ := testAgent(t, Options{Schedule: "@every 1m", Timeouts: Timeouts{Git: 30 * time.Second}, Now: func() time.Time { return now }})
	ok, why := a.Ready()
	assert.False(t, ok)
	assert.Contains(t, why, "no tick has succeeded yet")
	a.lastSuccess.Store(now.UnixNano())
	ok, _ = a.Ready()
	assert.True(t, ok)
	now = now.Add(3*time.Minute + 29*time.Second)
	ok, _ = a.Ready()
	assert.True(t, ok, "within 3 × 1m + 30s")
	now = now.Add(2 * time.Second)
	ok, why = a.Ready()
	assert.False(t, ok)
	assert.Contains(t, why, "no tick has succeeded for 3m31s")
}

// TestSubscribersGetRedactedEvents: what the live stream hands out is the
// event as written, with secret values masked.
func TestSubscribersGetRedactedEvents(t *testing.T) {
	a, _ := testAgent(t, Options{})
	a.opts.Redactor.Add("s3cret-value")
	ch, stop := a.Subscribe()
	defer stop()
	ctx := context.Background()
	a.events.add(ctx, store.Event{WorkloadID: "shop/web", Kind: "deploy.failed", Severity: store.SeverityError, Message: "token s3cret-value leaked?"})
	select {
	case ev := <-ch:
		assert.Equal(t, "shop/web", ev.WorkloadID)
		assert.Equal(t, "token *** leaked?", ev.Message)
		assert.NotZero(t, ev.ID, "the stored event, with its id")
	case <-time.After(5 * time.Second):
		require.Fail(t, "no event reached the subscriber")
	}
}
