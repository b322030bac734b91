package agent

import (
	"context"
	"sync"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
)

// statusPoster posts a commit status to a forge.
type statusPoster interface {
	Post(ctx context.Context, s forge.Status) error
}

// commitStatuses posts each workload's deploy outcome as a forge commit
// status, context berth/<agent>/<app>/<name>: pending when a deploy starts,
// then one final success or failure. It never re-posts an unchanged state,
// and once a commit's context is a success it stays one: no success is
// followed by a failure (or a pending) for the same commit and context.
type commitStatuses struct {
	forge  statusPoster // nil: commit statuses are off
	agent  string
	events *eventLog

	mu     sync.Mutex
	posted map[string]string // sha|context → state
}

func (c *commitStatuses) set(ctx context.Context, sha, workload, state, desc string) {
	if c == nil || c.forge == nil || sha == "" {
		return
	}
	context_ := "berth/" + c.agent + "/" + workload
	key := sha + "|" + context_
	c.mu.Lock()
	prev := c.posted[key]
	c.mu.Unlock()
	if prev == state || prev == forge.Success {
		return
	}
	desc = store.Truncate(desc, 140)
	err := c.forge.Post(ctx, forge.Status{SHA: sha, Context: context_, State: state, Description: desc})
	if err != nil {
		c.events.log.Warn("commit status not posted", "workload", workload, "state", state, "error", err)
		c.events.add(ctx, store.Event{WorkloadID: workload, Kind: string(KindCommitStatusFailed), Severity: store.SeverityWarn, Commit: sha,
			Message: "commit status " + state + " not posted: " + err.Error()})
		return
	}
	c.mu.Lock()
	c.posted[key] = state
	c.mu.Unlock()
}
