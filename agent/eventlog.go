package agent

import (
	"context"
	"log/slog"
	"sync"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/secrets"
)

// EventKind names what an event is about.
type EventKind string

func (k EventKind) String() string { return string(k) }

// Event kinds.
const (
	KindDeployStarted      EventKind = "deploy.started"
	KindDeploySucceeded    EventKind = "deploy.succeeded"
	KindDeployFailed       EventKind = "deploy.failed"
	KindWorkloadInvalid    EventKind = "workload.invalid"
	KindWorkloadMissing    EventKind = "workload.missing"
	KindWorkloadPruned     EventKind = "workload.pruned"
	KindWorkloadMoving     EventKind = "workload.moving"
	KindPruneRefused       EventKind = "prune.refused"
	KindConfigInvalid      EventKind = "config.invalid"
	KindSyncFailed         EventKind = "sync.failed"
	KindSecretUnusable     EventKind = "secret.unusable"
	KindStatusPushFailed   EventKind = "status.push_failed"
	KindCommitStatusFailed EventKind = "commit_status.failed"
	KindDeployRolledBack   EventKind = "deploy.rolled_back"
	KindDeployRecovered    EventKind = "deploy.recovered"
	KindWorkloadPinned     EventKind = "workload.pinned"
	KindWorkloadSuspended  EventKind = "workload.suspended"
	KindWorkloadResumed    EventKind = "workload.resumed"
	KindWorkloadRetry      EventKind = "workload.retry"
	KindCommitUnverified   EventKind = "commit.unverified"
	KindJobStarted         EventKind = "job.started"
	KindJobSucceeded       EventKind = "job.succeeded"
	KindJobFailed          EventKind = "job.failed"
	KindJobRecovered       EventKind = "job.recovered"
)

// eventLog writes the event log and fans new events out to live
// subscribers (the SSE stream). Every event passes the redactor: events
// leave the host (SSE, webhooks).
type eventLog struct {
	store  *store.Store
	log    *slog.Logger
	redact *secrets.Redactor

	// notify hears every new event (not a repeat counted on an old one).
	notify *notifications

	mu   sync.Mutex
	subs map[chan store.Event]struct{}
}

func newEventLog(s *store.Store, log *slog.Logger, r *secrets.Redactor) *eventLog {
	return &eventLog{store: s, log: log, redact: r, subs: map[chan store.Event]struct{}{}}
}

// add writes an event. A failure to write is logged, never fatal: the
// event log must not stop a deploy.
func (e *eventLog) add(ctx context.Context, ev store.Event) { e.write(ctx, ev, e.store.AddEvent) }

// count writes an event, or counts it on the newest event of the same
// workload when that is the same: a repeated failure is one event.
func (e *eventLog) count(ctx context.Context, ev store.Event) { e.write(ctx, ev, e.store.CountEvent) }

func (e *eventLog) write(ctx context.Context, ev store.Event, put func(context.Context, store.Event) (store.Event, error)) {
	ev.Message = e.redact.Redact(ev.Message)
	for k, v := range ev.Metadata {
		ev.Metadata[k] = e.redact.Redact(v)
	}
	ev, err := put(ctx, ev)
	if err != nil {
		e.log.Error("writing event failed", "kind", ev.Kind, "workload", ev.WorkloadID, "error", err)
		return
	}
	e.notify.event(ctx, ev)
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
func (e *eventLog) subscribe() (<-chan store.Event, func()) {
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

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
