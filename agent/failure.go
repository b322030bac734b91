package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

// fail turns an error into a failed outcome and says what serves now: the
// running version untouched, the previous one restored, or nothing.
// Tool output can echo secrets and events leave the host: the reason is
// generic for tool errors and redacted always; the full error stays in
// Err for the log.
func (a *Agent) fail(o Outcome, d deployment, stage Stage, err error) Outcome {
	o.Result, o.Stage = Failed, stage
	o.Reverted = errors.Is(err, engine.ErrReverted)
	o.RevertFailed = errors.Is(err, engine.ErrRevertFailed)
	// Only a version that was applied before can still serve: a first
	// deploy refused before it touched anything serves nothing.
	o.StillServing = !o.Reverted && !o.RevertFailed && d.row.AppliedHash != "" &&
		(errors.Is(err, engine.ErrStillServing) || serving(current(d.row, d.old)) && stage != StageStart && stage != StageGate)
	where := string(stage)
	switch {
	case o.Reverted:
		where += " (rolled back: the previous version serves again)"
	case o.RevertFailed:
		where += " (the previous version could not be restored: down)"
	case o.StillServing:
		where += " (the running version is still serving)"
	}
	var te *fault.ToolError
	var to *fault.TimeoutError
	switch {
	case errors.As(err, &to) && errors.As(err, &te):
		o.Reason = where + ": " + te.Tool + " " + to.Short()
	case errors.As(err, &te):
		o.Reason = where + ": " + te.Reason()
	default:
		o.Reason = a.opts.Redactor.Redact(where + ": " + firstLine(causeOf(err)))
	}
	if stage == StageBeforeDeploy {
		// The task's own words lead: "before_deploy failed: exit 3".
		o.Reason = a.opts.Redactor.Redact(firstLine(causeOf(err)))
		if o.StillServing {
			o.Reason += " (the running version is still serving)"
		}
	}
	if held(o) && d.release == nil {
		o.Reason += fmt.Sprintf("; not retried automatically: push a fix, or run `berth retry %s`", d.w.ID())
	}
	o.Err = errors.New(a.opts.Redactor.Redact(err.Error()))
	return o
}

// causeOf is an error's message without the engine's outcome markers,
// which the reason already says in words.
func causeOf(err error) string {
	s := err.Error()
	for _, m := range []error{engine.ErrStillServing, engine.ErrReverted} {
		s = strings.TrimPrefix(s, m.Error()+": ")
	}
	return s
}

// recordFailure writes a failed deploy into the row and schedules its
// retry: 1m, 2m, 4m … up to RetryMax for the same desired state (a new
// one is tried at once). The row names what serves now: the old
// container (restored, with its new port, after a rollback), or nothing.
// A retry failing the same way keeps its time, so the status branch and
// badges do not churn.
func (a *Agent) recordFailure(ctx context.Context, d deployment, o Outcome) {
	row := a.baseRow(d)
	// A tool (compose, Swarm) runs the containers; a Swarm service's row
	// keeps naming its service, which Swarm rolled back.
	managed := o.Workload.Source != nil && o.Workload.Source.Kind().Managed() || serviceRow(row)
	switch {
	case o.RevertFailed:
		row.Status = store.StatusExited
	case managed && o.Reverted && d.row.AppliedHash != "":
		row.Status = store.StatusRunning // the tool (compose, Swarm) runs the last good version again
	case o.Reverted:
		setContainer(&row, o.revertedTo)
	}
	if row.ContainerID == "" && (!managed || row.Status != store.StatusRunning) {
		row.Status = store.StatusFailed
	}
	if d.release == nil { // a failed heal or pin does not move git's backoff
		if row.FailedHash == o.Workload.Hash {
			row.Failures++
		} else {
			row.Failures = 1
		}
		row.FailedHash, row.FailedCommit = o.Workload.Hash, o.Commit
		row.RetryAt = a.now().Add(backoff(row.Failures, a.opts.RetryBackoff, a.opts.RetryMax))
		if held(o) {
			row.RetryAt = store.NoRetry
		}
	}
	again := row.LastDeploy == lastDeploy(o) && row.Message == store.Truncate(o.Reason, store.MaxMessageRunes)
	row.LastDeploy, row.Message = lastDeploy(o), o.Reason
	if row.Strategy == "" {
		row.Strategy = o.Decision.String()
	}
	if !again {
		row.UpdatedAt = time.Time{}
	}
	if err := a.store.PutRuntime(ctx, row); err != nil {
		a.log.Error("recording the failed deploy failed", "workload", d.w.ID(), "error", err)
	}
}

// held reports whether a failed deploy waits for a person rather than a
// backoff: a recreate whose new version failed its readiness gate took
// the site down for that long, and trying the same version again would
// take it down again; a before_deploy task (a migration) that failed is
// not run again by itself. A new commit, `berth retry` or `berth rollback`
// moves it on; pull and build failures (nothing stopped) back off.
func held(o Outcome) bool {
	return o.Stage == StageGate && o.Decision.Strategy == sources.StrategyRecreate || o.Stage == StageBeforeDeploy
}

func lastDeploy(o Outcome) string {
	if o.Reverted {
		return store.DeployRolledBack
	}
	return store.DeployFailed
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
