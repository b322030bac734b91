package agent

import (
	"context"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// metaBeforeDeploy is the meta key of the desired hash whose
// before_deploy task last succeeded, per workload.
func metaBeforeDeploy(id string) string { return "before_deploy_ok:" + id }

// beforeDeployDone reports whether the workload's before_deploy task
// already succeeded for its desired version: it runs once per version,
// not again when a later step failed and the version is retried.
func (a *Agent) beforeDeployDone(ctx context.Context, w *sources.Workload) bool {
	if w.BeforeDeploy == nil {
		return false
	}
	v, err := a.store.Meta(ctx, metaBeforeDeploy(w.ID()))
	return err == nil && v == w.Hash
}

// recordTask returns the engine's report of a before_deploy run: the run
// is recorded (its output's tail, secrets redacted) and a success is
// remembered for the desired version.
func (a *Agent) recordTask(ctx context.Context, w *sources.Workload, commit string) func(docker.TaskResult, error) {
	if w.BeforeDeploy == nil {
		return nil
	}
	started := a.now()
	return func(res docker.TaskResult, err error) {
		run := store.Run{WorkloadID: w.ID(), Task: store.TaskBeforeDeploy, Trigger: store.TriggerDeploy, Commit: commit,
			StartedAt: started, DurationMS: res.Took.Milliseconds(), ExitCode: res.ExitCode, TimedOut: res.TimedOut,
			OutputTail: a.opts.Redactor.Redact(string(res.Output))}
		if err != nil {
			run.Error = a.opts.Redactor.Redact(err.Error())
		}
		ctx := context.WithoutCancel(ctx)
		if _, rerr := a.store.AddRun(ctx, run); rerr != nil {
			a.log.Warn("recording the before_deploy run failed", "workload", w.ID(), "error", rerr)
		}
		a.metrics.run(run)
		if err == nil && res.ExitCode == 0 && !res.TimedOut {
			if merr := a.store.SetMeta(ctx, metaBeforeDeploy(w.ID()), w.Hash); merr != nil {
				a.log.Warn("recording the before_deploy success failed", "workload", w.ID(), "error", merr)
			}
		}
		a.log.Info("before_deploy ran", "workload", w.ID(), "exit", res.ExitCode, "timed_out", res.TimedOut,
			"took", res.Took.Round(time.Millisecond))
	}
}
