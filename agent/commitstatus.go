package agent

import (
	"context"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
)

// statusPoster posts a commit status to a forge.
type statusPoster interface {
	Post(ctx context.Context, s forge.Status) error
}

// statusQueue bounds the commit statuses waiting to be posted; when a
// forge is slower than the deploys, the newest statuses beyond it are
// dropped with a warning rather than held in memory or blocking.
const statusQueue = 256

// commitStatuses posts each workload's deploy outcome as a forge commit
// status, context berth/<agent>/<app>/<name>: pending when a deploy starts,
// then one final success or failure. It never re-posts an unchanged state,
// and once a commit's context is a success it stays one: no success is
// followed by a failure (or a pending) for the same commit and context.
// Posts go through a bounded queue to one worker, so a slow or hanging
// forge never blocks a deploy.
type commitStatuses struct {
	forge   statusPoster // nil: commit statuses are off
	agent   string
	events  *eventLog
	timeout time.Duration // one status, retries included (--forge-timeout)

	mu      sync.Mutex
	posted  map[string]string // sha|context → state
	queue   chan forge.Status
	pending sync.WaitGroup
	start   sync.Once
}

func (c *commitStatuses) set(ctx context.Context, sha, workload, state, desc string) {
	if c == nil || c.forge == nil || sha == "" {
		return
	}
	st := forge.Status{SHA: sha, Context: "berth/" + c.agent + "/" + workload, State: state, Description: store.Truncate(desc, 140)}
	key := sha + "|" + st.Context
	c.mu.Lock()
	prev := c.posted[key]
	if prev == state || prev == forge.Success {
		c.mu.Unlock()
		return
	}
	c.posted[key] = state
	c.mu.Unlock()
	c.start.Do(func() {
		c.queue = make(chan forge.Status, statusQueue)
		go c.worker(context.WithoutCancel(ctx)) // posts outlive the tick that queued them
	})
	c.pending.Add(1)
	select {
	case c.queue <- st:
	default:
		c.pending.Done()
		c.forget(key, state)
		c.warn(ctx, workload, sha, "commit status "+state+" not posted: the forge is too slow (queue full)")
	}
}

func (c *commitStatuses) worker(base context.Context) {
	for st := range c.queue {
		ctx, cancel := context.WithTimeout(base, c.timeout)
		err := c.forge.Post(ctx, st)
		cancel()
		if err != nil {
			workload := st.Context[len("berth/"+c.agent+"/"):]
			c.forget(st.SHA+"|"+st.Context, st.State)
			c.warn(base, workload, st.SHA, "commit status "+st.State+" not posted: "+err.Error())
		}
		c.pending.Done()
	}
}

// forget undoes a state that did not reach the forge, so it is posted
// again next time.
func (c *commitStatuses) forget(key, state string) {
	c.mu.Lock()
	if c.posted[key] == state {
		delete(c.posted, key)
	}
	c.mu.Unlock()
}

func (c *commitStatuses) warn(ctx context.Context, workload, sha, msg string) {
	c.events.log.Warn("commit status not posted", "workload", workload, "detail", msg)
	c.events.add(ctx, store.Event{WorkloadID: workload, Kind: string(KindCommitStatusFailed), Severity: store.SeverityWarn, Commit: sha, Message: msg})
}

// flush waits until every queued status was posted (or failed), or ctx
// ends: `berth sync` flushes before it exits.
func (c *commitStatuses) flush(ctx context.Context) {
	if c == nil || c.forge == nil {
		return
	}
	waitFor(ctx, &c.pending)
}

// waitFor waits until wg is done or ctx ends, whichever comes first: the
// background queues (commit statuses, notifications) flush with it.
func waitFor(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
