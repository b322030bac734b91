package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
)

// Event kinds.
const (
	KindDeployStarted   = "deploy.started"
	KindDeploySucceeded = "deploy.succeeded"
	KindDeployFailed    = "deploy.failed"
	KindWorkloadInvalid = "workload.invalid"
	KindWorkloadMissing = "workload.missing"
	KindWorkloadPruned  = "workload.pruned"
	KindPruneRefused    = "prune.refused"
	KindConfigInvalid   = "config.invalid"
	KindSyncFailed      = "sync.failed"
)

// Deploy phases for EmitDeployEvent.
const (
	PhaseStarted   = "started"
	PhaseSucceeded = "succeeded"
	PhaseFailed    = "failed"
)

// events writes the event log and fans new events out to live
// subscribers (the SSE stream).
type events struct {
	store  *store.Store
	log    *slog.Logger
	redact *secrets.Redactor

	mu   sync.Mutex
	subs map[chan store.Event]struct{}
}

func newEvents(s *store.Store, log *slog.Logger, r *secrets.Redactor) *events {
	return &events{store: s, log: log, redact: r, subs: map[chan store.Event]struct{}{}}
}

// add writes an event. A failure to write is logged, never fatal: the
// event log must not stop a deploy.
func (e *events) add(ctx context.Context, ev store.Event) {
	// The last guard: events leave the host (SSE, webhooks).
	ev.Message = e.redact.Redact(ev.Message)
	for k, v := range ev.Metadata {
		ev.Metadata[k] = e.redact.Redact(v)
	}
	ev, err := e.store.AddEvent(ctx, ev)
	if err != nil {
		e.log.Error("writing event failed", "kind", ev.Kind, "workload", ev.WorkloadID, "error", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber misses events rather than blocking deploys
		}
	}
}

// subscribe returns a channel of new events and a function to stop.
func (e *events) subscribe() (<-chan store.Event, func()) {
	ch := make(chan store.Event, 64)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		delete(e.subs, ch)
		e.mu.Unlock()
	}
}

// DeployInfo is what every deploy event carries, whatever the source kind.
type DeployInfo struct {
	Workload *sources.Workload
	Decision sources.Decision
	Image    string
	Commit   string
	Reason   string // for a failure: a generic reason, never raw tool output
}

// EmitDeployEvent writes the one event of a deploy phase. Every deploy of
// every source kind goes through it, so the metadata keys are the same.
func (e *events) EmitDeployEvent(ctx context.Context, phase string, d DeployInfo) {
	id := d.Workload.ID()
	meta := map[string]string{
		"workload_id": id,
		"kind":        string(d.Workload.Source.Kind()),
		"strategy":    string(d.Decision.Strategy),
		"reason":      d.Decision.Reason,
		"image":       d.Image,
		"commit":      d.Commit,
	}
	if d.Decision.Why != "" {
		meta["forced_by"] = d.Decision.Why
	}
	ev := store.Event{WorkloadID: id, Commit: d.Commit, Metadata: meta, Severity: store.SeverityInfo}
	switch phase {
	case PhaseStarted:
		ev.Kind = KindDeployStarted
		ev.Message = fmt.Sprintf("deploying %s at %s via %s", id, shortSHA(d.Commit), d.Decision)
	case PhaseSucceeded:
		ev.Kind = KindDeploySucceeded
		ev.Message = fmt.Sprintf("deployed %s at %s via %s", id, shortSHA(d.Commit), d.Decision)
	default:
		ev.Kind = KindDeployFailed
		ev.Severity = store.SeverityError
		ev.Message = fmt.Sprintf("deploy of %s at %s failed: %s", id, shortSHA(d.Commit), d.Reason)
	}
	e.add(ctx, ev)
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
