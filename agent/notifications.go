package agent

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/notify"
)

// KindNotifyFailed is a notification that did not reach its destination.
// It is never notified itself.
const KindNotifyFailed EventKind = "notify.failed"

// notifyQueue bounds the notifications waiting to be sent.
const notifyQueue = 256

// notifyAttempts bounds the tries of one notification (1 s, 2 s apart).
const notifyAttempts = 3

// destination is one configured notification target, its URL resolved.
type destination struct {
	url   string // may hold a token: never logged
	label string // scheme and host, for logs and events
	kinds []string
}

type notification struct {
	dest destination
	msg  notify.Message
}

// notifications sends the events berth.yaml's notifications block asks
// for: one per (destination, workload, kind, commit) — a failure that
// repeats is counted on its event, not sent again — through a bounded
// queue to one worker, with bounded retries; a destination that fails
// adds a warning event and never fails a deploy.
type notifications struct {
	sender  *notify.Sender
	agent   string
	events  *eventLog
	timeout time.Duration // one attempt

	mu      sync.Mutex
	dests   []destination
	sent    map[string]bool
	queue   chan notification
	pending sync.WaitGroup
	start   sync.Once
}

// configure takes the destinations of a newly loaded config; a url_secret
// is looked up among the global shared secrets. It returns what cannot be
// used, for warnings.
func (n *notifications) configure(list []gitops.Notification, global map[string]string) []string {
	var dests []destination
	var problems []string
	for i, c := range list {
		raw := c.URL
		if c.URLSecret != "" {
			v, ok := global[c.URLSecret]
			if !ok {
				problems = append(problems, fmt.Sprintf("notifications.%d: shared secret %s has no value on this agent; that destination is off", i, c.URLSecret))
				continue
			}
			if err := notify.CheckURL(v); err != nil {
				problems = append(problems, fmt.Sprintf("notifications.%d: shared secret %s: %v; that destination is off", i, c.URLSecret, err))
				continue
			}
			raw = v
		}
		kinds := c.Events
		if len(kinds) == 0 {
			kinds = notify.DefaultEvents
		}
		dests = append(dests, destination{url: raw, label: notify.Label(raw), kinds: kinds})
	}
	n.mu.Lock()
	n.dests = dests
	n.mu.Unlock()
	return problems
}

// event queues ev for every destination that asked for its kind, unless
// it was sent before.
func (n *notifications) event(ctx context.Context, ev store.Event) {
	if n == nil || ev.Count > 1 {
		return
	}
	n.mu.Lock()
	var out []notification
	for _, d := range n.dests {
		key := d.label + "|" + ev.WorkloadID + "|" + ev.Kind + "|" + ev.Commit
		if !slices.Contains(d.kinds, ev.Kind) || n.sent[key] {
			continue
		}
		if len(n.sent) > 10_000 { // bounded: forget the oldest era at once
			n.sent = map[string]bool{}
		}
		n.sent[key] = true
		out = append(out, notification{dest: d, msg: notify.Message{Agent: n.agent, Kind: ev.Kind, Severity: ev.Severity,
			Workload: ev.WorkloadID, Commit: ev.Commit, Message: ev.Message, Time: ev.Time, Metadata: ev.Metadata}})
	}
	n.mu.Unlock()
	if len(out) == 0 {
		return
	}
	n.start.Do(func() {
		n.queue = make(chan notification, notifyQueue)
		go n.worker(context.WithoutCancel(ctx))
	})
	for _, nt := range out {
		n.pending.Add(1)
		select {
		case n.queue <- nt:
		default:
			n.pending.Done()
			n.warn(ctx, nt, "not sent: the queue is full")
		}
	}
}

func (n *notifications) worker(base context.Context) {
	for nt := range n.queue {
		var err error
		for attempt := range notifyAttempts {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * time.Second)
			}
			ctx, cancel := context.WithTimeout(base, n.timeout)
			err = n.sender.Send(ctx, nt.dest.url, nt.msg)
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			n.warn(base, nt, fmt.Sprintf("not sent after %d attempts: %v", notifyAttempts, err))
		}
		n.pending.Done()
	}
}

func (n *notifications) warn(ctx context.Context, nt notification, detail string) {
	msg := fmt.Sprintf("notification of %s to %s %s", nt.msg.Kind, nt.dest.label, detail)
	n.events.log.Warn("notification failed", "kind", nt.msg.Kind, "workload", nt.msg.Workload, "destination", nt.dest.label, "detail", detail)
	n.events.add(ctx, store.Event{WorkloadID: nt.msg.Workload, Kind: string(KindNotifyFailed), Severity: store.SeverityWarn, Commit: nt.msg.Commit, Message: msg})
}

// flush waits until every queued notification was sent (or given up), or
// ctx ends: `berth sync` flushes before it exits.
func (n *notifications) flush(ctx context.Context) {
	if n == nil {
		return
	}
	waitFor(ctx, &n.pending)
}
