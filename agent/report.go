package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

// statusPusher writes an agent's status report back to git.
type statusPusher interface {
	Push(ctx context.Context, r gitops.StatusReport) error
}

// reporter fans what the tick decided and what its deploys did out to
// the log, the event log (and so SSE), forge commit statuses and the
// status branch. Deploy code only returns outcomes; it reports nothing.
type reporter struct {
	agent    string
	events   *eventLog
	statuses *commitStatuses
	status   statusPusher // nil: no status branch
	log      *slog.Logger
	// gitTimeout bounds a status push (--git-timeout).
	gitTimeout time.Duration
	// What every status report says of the agent itself: its labels (for
	// placement in plans), its tick interval and heartbeat (for the fleet
	// view's quiet check), and when it was written.
	labels    map[string]string
	interval  time.Duration
	heartbeat time.Duration // an idle agent rewrites its report this often; <= 0 never
	now       func() time.Time
	// pushedAt is the last status push tried (a failing branch is not
	// retried every idle tick). It is kept in the state dir (meta), so a
	// `berth sync` run from a timer does not push a heartbeat every run.
	pushedAt time.Time
	meta     metaStore
	loaded   bool // pushedAt was read from meta
	// refused: the git server refused a status push for want of write
	// access; push-back is off until the agent restarts (one warning, not
	// one per heartbeat).
	refused bool
	// backups are the scheduled volumes' last snapshots, by workload.
	backups func() map[string]map[string]gitops.VolumeBackup
}

// metaStore keeps small facts across processes (the state dir's SQLite).
type metaStore interface {
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// metaStatusPushed is the meta key of the last status push tried.
const metaStatusPushed = "status_pushed_at"

// heartbeatDue reports whether an idle agent should rewrite its report
// so the fleet view does not call it quiet.
func (r *reporter) heartbeatDue(ctx context.Context) bool {
	if r.status == nil || r.heartbeat <= 0 {
		return false
	}
	if !r.loaded && r.meta != nil {
		r.loaded = true
		if v, err := r.meta.Meta(ctx, metaStatusPushed); err == nil && v != "" {
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.After(r.pushedAt) {
				r.pushedAt = t
			}
		}
	}
	return r.now().Sub(r.pushedAt) >= r.heartbeat
}

// pushed records when a status push was tried, in memory and in meta.
func (r *reporter) pushed(ctx context.Context, at time.Time) {
	r.pushedAt, r.loaded = at, true
	if r.meta == nil {
		return
	}
	if err := r.meta.SetMeta(ctx, metaStatusPushed, at.UTC().Format(time.RFC3339Nano)); err != nil {
		r.log.Warn("recording the status push time failed", "error", err)
	}
}

func (r *reporter) deployStarted(ctx context.Context, commit string, d deployment, dec sources.Decision) {
	id := d.w.ID()
	r.log.Info("deploying", "workload", id, "strategy", dec.String(), "commit", shortSHA(commit), "why", d.why.String())
	if d.why.Kind == WhyRetry {
		return // a retry of the same desired state is not news: its outcome is counted on the failure
	}
	r.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindDeployStarted), Severity: store.SeverityInfo, Commit: commit,
		Message:  fmt.Sprintf("deploying %s at %s via %s: %s", id, shortSHA(commit), dec, d.why),
		Metadata: deployMeta(d.w, dec, commit, "", d.why)})
	r.statuses.set(ctx, commit, id, forge.Pending, "deploying via "+dec.String())
}

func (r *reporter) deployFinished(ctx context.Context, o Outcome) {
	id := o.Workload.ID()
	ev := store.Event{WorkloadID: id, Commit: o.Commit, Metadata: deployMeta(o.Workload, o.Decision, o.Commit, o.Image, o.Why)}
	if o.Result == Failed {
		r.log.Error("deploy failed", "workload", id, "stage", string(o.Stage), "reason", o.Reason)
		r.log.Debug("deploy failure detail", "workload", id, "error", o.Err)
		ev.Kind, ev.Severity = string(KindDeployFailed), store.SeverityError
		ev.Message = fmt.Sprintf("deploy of %s at %s failed: %s", id, shortSHA(o.Commit), o.Reason)
		switch {
		case o.Reverted:
			ev.Kind = string(KindDeployRolledBack)
			ev.Message = fmt.Sprintf("deploy of %s at %s failed and was rolled back: %s", id, shortSHA(o.Commit), o.Reason)
		case o.Stage == StageBeforeDeploy:
			// DESIGN §10: the message starts "before_deploy failed".
			ev.Message = fmt.Sprintf("%s (deploy of %s at %s)", o.Reason, id, shortSHA(o.Commit))
		}
		r.events.count(ctx, ev)
		r.statuses.set(ctx, o.Commit, id, forge.Failure, o.Reason)
		return
	}
	r.log.Info("deployed", "workload", id, "image", o.Image, "took", o.Took.Round(time.Millisecond))
	ev.Kind, ev.Severity = string(KindDeploySucceeded), store.SeverityInfo
	ev.Message = fmt.Sprintf("deployed %s at %s via %s", id, shortSHA(o.Commit), o.Decision)
	if o.Gate != "" {
		ev.Metadata["gate"] = o.Gate
	}
	r.events.add(ctx, ev)
	if o.Recovered {
		r.recovered(ctx, id, o.Commit)
	}
	r.statuses.set(ctx, o.Commit, id, forge.Success, "deployed via "+o.Decision.String())
}

// recovered says that a failing or down workload serves again.
func (r *reporter) recovered(ctx context.Context, id, commit string) {
	r.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindDeployRecovered), Severity: store.SeverityInfo, Commit: commit,
		Message: fmt.Sprintf("%s recovered: %s serves", id, shortSHA(commit))})
}

// deployMeta is the metadata every deploy event carries, whatever the
// source kind, so the keys are the same everywhere.
func deployMeta(w *sources.Workload, dec sources.Decision, commit, image string, why Why) map[string]string {
	meta := map[string]string{
		"workload_id": w.ID(),
		"kind":        string(w.Source.Kind()),
		"strategy":    string(dec.Strategy),
		"reason":      string(dec.Reason),
		"image":       image,
		"commit":      commit,
		"why":         why.String(),
	}
	if dec.Why != "" {
		meta["forced_by"] = dec.Why
	}
	return meta
}

func (r *reporter) invalid(ctx context.Context, commit string, m invalidMark) {
	r.log.Error("workload file is invalid", "workload", m.inv.ID, "error", m.msg)
	r.events.add(ctx, store.Event{WorkloadID: m.inv.ID, Kind: string(KindWorkloadInvalid), Severity: store.SeverityError,
		Message: m.msg, Commit: commit, Metadata: map[string]string{"workload_id": m.inv.ID, "file": m.inv.File}})
}

func (r *reporter) missing(ctx context.Context, row store.Runtime) {
	r.events.add(ctx, store.Event{WorkloadID: row.WorkloadID, Kind: string(KindWorkloadMissing), Severity: store.SeverityWarn,
		Message: fmt.Sprintf("container %s of %s is gone", row.ContainerName, row.WorkloadID), Commit: row.Commit})
}

func (r *reporter) pruned(ctx context.Context, id, commit string) {
	r.log.Info("pruned", "workload", id)
	r.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindWorkloadPruned), Severity: store.SeverityInfo, Commit: commit,
		Message: fmt.Sprintf("%s was removed from the config at %s: containers removed", id, shortSHA(commit))})
}

func (r *reporter) pruneRefused(ctx context.Context, commit string, n int) {
	msg := refusalMessage(commit, n)
	r.log.Warn("prune refused", "reason", msg)
	r.events.add(ctx, store.Event{Kind: string(KindPruneRefused), Severity: store.SeverityWarn, Message: msg, Commit: commit})
}

func (r *reporter) configInvalid(ctx context.Context, commit string, errs []error) {
	r.events.add(ctx, store.Event{Kind: string(KindConfigInvalid), Severity: store.SeverityError, Commit: commit,
		Message: fmt.Sprintf("config at %s is invalid, nothing deployed or pruned: %v", shortSHA(commit), errs[0])})
}

func (r *reporter) syncFailed(ctx context.Context, err error) {
	r.log.Error("sync failed", "error", err)
	r.events.count(ctx, store.Event{Kind: string(KindSyncFailed), Severity: store.SeverityError, Message: err.Error()})
}

func (r *reporter) secretWarnings(ctx context.Context, commit string, warns []secretWarning) {
	for _, w := range warns {
		r.log.Warn("shared secret not used", "detail", w.msg)
		r.events.add(ctx, store.Event{Kind: string(KindSecretUnusable), Severity: store.SeverityWarn, Commit: commit, Message: w.msg, Metadata: w.meta})
	}
}

// tick pushes the status of every workload after a tick that changed
// something. A failed push is a warning: the deploys already happened.
func (r *reporter) tick(ctx context.Context, res *TickResult, rows []store.Runtime) {
	if r.status == nil || r.refused {
		return
	}
	rep := statusReport(r.agent, res, rows)
	if r.backups != nil {
		for id, vols := range r.backups() {
			if ws, ok := rep.Workloads[id]; ok {
				ws.Backups = vols
				rep.Workloads[id] = ws
			}
		}
	}
	rep.Labels, rep.Heartbeat = r.labels, r.now().UTC()
	rep.IntervalSeconds, rep.HeartbeatSeconds = int(r.interval/time.Second), int(max(r.heartbeat, 0)/time.Second)
	r.pushed(ctx, rep.Heartbeat)
	push := func(ctx context.Context) error { return r.status.Push(ctx, rep) }
	if err := fault.Deadline(ctx, r.gitTimeout, "--git-timeout", push); err != nil {
		if errors.Is(err, gitops.ErrPushRefused) {
			r.refused = true
			msg := "status push-back is off until the agent restarts: " + err.Error() +
				"; give the agent a token that can push to the config repo, or turn push-back off with --status-branch \"\""
			r.log.Warn("status push refused", "error", err)
			r.events.add(ctx, store.Event{Kind: string(KindStatusPushFailed), Severity: store.SeverityWarn, Commit: res.Commit, Message: msg})
			return
		}
		r.log.Warn("status push failed", "error", err)
		r.events.add(ctx, store.Event{Kind: string(KindStatusPushFailed), Severity: store.SeverityWarn, Commit: res.Commit,
			Message: "status branch not updated: " + err.Error()})
		return
	}
	r.log.Info("status pushed", "message", rep.Message)
}
