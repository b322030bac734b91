package agent_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/testkit/agenttest"
)

// untilTick ticks (bounded: 10 s) until done says the result is what the
// test waits for: events reach the view asynchronously.
func untilTick(t *testing.T, a *agent.Agent, done func(*agent.TickResult) bool) *agent.TickResult {
	t.Helper()
	for range 100 {
		res, err := a.Tick(context.Background())
		require.NoError(t, err)
		if done(res) {
			return res
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the tick never saw the change")
	return nil
}

// TestIdleTicksAskDockerNothing: with the event stream followed, a tick
// where nothing changed makes no Docker call, and a container removed
// behind the agent's back is still seen (from its event) and reported.
func TestIdleTicksAskDockerNothing(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	h.Repo.Push("web")
	a, st := h.Agent(agent.Options{SelfHeal: false})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Watch(ctx)
	_, err := a.Tick(ctx)
	require.NoError(t, err)
	untilTick(t, a, func(r *agent.TickResult) bool { return r.NoOp }) // the tick after a deploy lists once

	before := h.Docker.Calls()
	for range 5 {
		res, err := a.Tick(ctx)
		require.NoError(t, err)
		require.True(t, res.NoOp)
	}
	assert.Zero(t, h.Docker.Calls()-before, "idle ticks made Docker calls")

	web := h.Containers()[h.ID("web")][0]
	require.NoError(t, h.Docker.Purge(ctx, web.ID, 0))
	untilTick(t, a, func(r *agent.TickResult) bool { return r.Observed > 0 })
	assert.Equal(t, store.StatusMissing, agenttest.Rows(t, st)[h.ID("web")].Status)
}

// cuttable is the real Docker client whose event stream the test can cut
// (as a dockerd restart or a dropped socket would) and keep down.
type cuttable struct {
	*docker.Client
	mu     sync.Mutex
	down   bool
	cancel context.CancelFunc
}

func (c *cuttable) WatchContainers(ctx context.Context, agent string) (<-chan docker.ContainerEvent, <-chan error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		errs := make(chan error, 1)
		errs <- errors.New("the stream is cut")
		return nil, errs
	}
	ctx, c.cancel = context.WithCancel(ctx)
	return c.Client.WatchContainers(ctx, agent)
}

func (c *cuttable) cut(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
	if down && c.cancel != nil {
		c.cancel()
	}
}

// TestBrokenStreamNeverHidesAMissingContainer: while the event stream is
// down, a container removed meanwhile (its event lost) is still found
// missing, because every tick lists; once the stream is back, idle ticks
// ask Docker nothing again.
func TestBrokenStreamNeverHidesAMissingContainer(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	h.Workload("api", agenttest.Web(h.Image, "v1"))
	h.Repo.Push("web and api")
	d := &cuttable{Client: h.Docker}
	a, st := h.AgentWith(agent.Options{SelfHeal: false}, d)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Watch(ctx)
	_, err := a.Tick(ctx)
	require.NoError(t, err)
	untilTick(t, a, func(r *agent.TickResult) bool { return r.NoOp })

	d.cut(true)
	untilTick(t, a, func(*agent.TickResult) bool { // the view saw the stream end: ticks list
		before := h.Docker.Calls()
		_, err := a.Tick(ctx)
		require.NoError(t, err)
		return h.Docker.Calls() > before
	})
	require.NoError(t, h.Docker.Purge(ctx, h.Containers()[h.ID("web")][0].ID, 0))
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Observed, "the first tick after the removal sees it")
	assert.Equal(t, store.StatusMissing, agenttest.Rows(t, st)[h.ID("web")].Status)
	assert.Equal(t, store.StatusRunning, agenttest.Rows(t, st)[h.ID("api")].Status)

	before := h.Docker.Calls()
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.NotZero(t, h.Docker.Calls()-before, "without a stream every tick lists")

	d.cut(false) // the view reconnects after its backoff (1 s) and lists
	var quiet bool
	for range 50 { // bounded: 10 s
		before = h.Docker.Calls()
		_, err = a.Tick(ctx)
		require.NoError(t, err)
		if quiet = h.Docker.Calls() == before; quiet {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	assert.True(t, quiet, "idle ticks ask Docker nothing once the stream is back")
}
