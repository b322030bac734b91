package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
)

// ErrNotAJob: a run was asked of a workload that is not a job here.
var ErrNotAJob = errors.New("not a job on this agent")

// deployJob makes a job's new version ready: its image is prepared (pulled
// or built) and recorded; no container runs until its schedule says so.
func (a *Agent) deployJob(ctx context.Context, o Outcome, d deployment, src sources.ImageSource) Outcome {
	ref, img, err := a.prepare(ctx, d, src)
	if err != nil {
		return a.fail(o, d, StagePrepare, err)
	}
	o.Image = ref
	row := a.baseRow(d)
	row.ContainerID, row.ContainerName, row.Upstream = "", "", ""
	row.Status, row.Image, row.ImageID, row.ImageDigest = store.StatusScheduled, ref, img.ID, firstNonEmpty(img.Digest, img.ID)
	a.applied(&row, o)
	var rel *store.Release
	if d.release != nil {
		row.ReleaseID = d.release.ID
	} else {
		rel = a.newRelease(o, ref, img)
	}
	if _, err := a.store.RecordDeploy(ctx, row, rel); err != nil {
		return a.fail(o, d, StageRecorded, err)
	}
	return o
}

// jobs schedules the job workloads this agent runs. It is driven by the
// agent's clock (RunDueJobs), so tests move time instead of waiting.
type jobs struct {
	mu      sync.Mutex
	entries map[string]*jobEntry // by workload id
	runs    sync.WaitGroup
}

// jobEntry is one job: its definition (from the last tick), when it runs
// next, and its run in flight.
type jobEntry struct {
	w       *sources.Workload
	volume  string   // set for a volume's scheduled backup (not a job)
	env     []string // its container env, resolved at the tick (the secrets' layers change under ticks)
	sched   cron.Schedule
	next    time.Time
	cancel  context.CancelFunc // the run in flight; nil when none
	done    chan struct{}
	started bool // seen by this process (catch-up is once per start)
}

// scheduleJobs brings the schedule up to date with the tick's config. No
// query when there are no jobs, here or in the config.
func (a *Agent) scheduleJobs(ctx context.Context, d *gitops.Desired) {
	a.jobs.mu.Lock()
	have := len(a.jobs.entries) > 0
	a.jobs.mu.Unlock()
	for _, w := range d.Workloads {
		have = have || w.Job != nil || hasVolumeBackups(w)
	}
	if !have {
		return
	}
	list, err := a.store.ListRuntime(ctx)
	if err != nil {
		a.log.Warn("reading the jobs' rows failed", "error", err)
		return
	}
	rows := make(map[string]store.Runtime, len(list))
	for _, r := range list {
		rows[r.WorkloadID] = r
	}
	here := map[string]bool{} // decided outside the lock: it may read the status branch
	for _, w := range d.Workloads {
		if w.Job != nil || hasVolumeBackups(w) {
			here[w.ID()] = a.runsJobHere(ctx, w)
		}
	}
	a.syncJobs(ctx, d.Workloads, rows, here)
}

// syncJobs updates the schedule from the tick's desired workloads (those
// in here run on this agent): new jobs are scheduled (a run missed while the agent was down starts once
// with catch_up: once), changed ones take their new definition, removed
// ones are stopped gracefully.
func (a *Agent) syncJobs(ctx context.Context, ws []*sources.Workload, rows map[string]store.Runtime, here map[string]bool) {
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	if a.jobs.entries == nil {
		a.jobs.entries = map[string]*jobEntry{}
	}
	now := a.now()
	seen := map[string]bool{}
	for _, w := range ws {
		row, ok := rows[w.ID()]
		if w.Job == nil || !ok || row.Status != store.StatusScheduled || !here[w.ID()] {
			continue
		}
		sched, err := cron.ParseStandard(w.Job.Schedule)
		if err != nil {
			continue // validate refused it already
		}
		seen[w.ID()] = true
		e, ok := a.jobs.entries[w.ID()]
		if !ok {
			e = &jobEntry{}
			a.jobs.entries[w.ID()] = e
		}
		if e.w == nil || e.w.Job.Schedule != w.Job.Schedule {
			e.next = sched.Next(now)
		}
		e.w, e.sched, e.env = w, sched, a.secrets.env(w, nil)
		if !e.started {
			e.started = true
			if w.Job.CatchUp == sources.CatchUpOnce && a.missedRun(ctx, w, sched, row, now) {
				a.startRun(ctx, e, store.TriggerCatchUp)
			}
		}
	}
	a.syncBackups(ws, rows, here, seen, now)
	for id, e := range a.jobs.entries {
		if !seen[id] {
			if e.cancel != nil {
				e.cancel() // the run stops gracefully (SIGTERM, grace)
			}
			delete(a.jobs.entries, id)
		}
	}
}

// jobElectionMaxAge is how old a fleet read may be for choosing the agent
// that runs a job.
const jobElectionMaxAge = 5 * time.Minute

// runsJobHere reports whether this agent is the one that runs a job: a
// job runs on exactly one agent. Placed on one agent by name, that is
// it; otherwise it is the first by name among the agents that place it
// and report on the status branch (not quiet), this one included.
// Without a status branch (or while it cannot be read) every agent that
// places the job runs it: place it on one agent by name then.
func (a *Agent) runsJobHere(ctx context.Context, w *sources.Workload) bool {
	if w.Placement != nil && len(w.Placement.Agents) == 1 {
		return true // PlaceOn kept it: it is placed here
	}
	f, err := a.readFleet(ctx, jobElectionMaxAge)
	if err != nil {
		return true
	}
	first := a.opts.Name
	for _, fa := range f.Agents {
		if fa.Quiet || fa.Agent >= first {
			continue
		}
		if w.Placement == nil || w.Placement.Places(fa.Agent, fa.Labels) {
			first = fa.Agent
		}
	}
	if first != a.opts.Name {
		a.log.Debug("job runs on another agent", "workload", w.ID(), "agent", first)
	}
	return first == a.opts.Name
}

// missedRun reports whether a scheduled time passed since the job's last
// run (or, never run, since it was deployed) while nothing ran it.
func (a *Agent) missedRun(ctx context.Context, w *sources.Workload, sched cron.Schedule, row store.Runtime, now time.Time) bool {
	since := row.UpdatedAt
	if rs, err := a.store.Runs(ctx, w.ID(), 1); err == nil && len(rs) > 0 {
		since = rs[0].StartedAt
	}
	return !since.IsZero() && !sched.Next(since).After(now)
}

// RunDueJobs starts every job whose time has come: a run due while one
// runs is skipped (concurrency: forbid) or replaces it (replace). The
// agent's loop calls it every second; tests call it after moving the
// clock.
func (a *Agent) RunDueJobs(ctx context.Context) {
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	now := a.now()
	ids := make([]string, 0, len(a.jobs.entries))
	for id := range a.jobs.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := a.jobs.entries[id]
		if e.volume != "" {
			a.checkStale(ctx, e.w.ID(), e.volume, e.sched, now)
		}
		if e.next.After(now) {
			continue
		}
		e.next = e.sched.Next(now)
		if e.cancel != nil && !e.w.Job.Replaces() {
			a.log.Info("job run skipped: the last one still runs (concurrency: forbid)", "workload", id)
			continue
		}
		a.startRun(ctx, e, store.TriggerSchedule)
	}
}

// RunJob starts a run of the job now (berth run).
func (a *Agent) RunJob(ctx context.Context, id string) error {
	a.jobs.mu.Lock()
	defer a.jobs.mu.Unlock()
	e, ok := a.jobs.entries[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotAJob, id)
	}
	if e.cancel != nil && !e.w.Job.Replaces() {
		return fmt.Errorf("%w: %s is running now (concurrency: forbid)", ErrJobRunning, id)
	}
	a.startRun(ctx, e, store.TriggerOperator)
	return nil
}

// ErrJobRunning: a run was asked while one runs and the job forbids overlap.
var ErrJobRunning = errors.New("the job is already running")

// WaitJobs waits until no run is in flight.
func (a *Agent) WaitJobs() { a.jobs.runs.Wait() }

// startRun starts a run in the background (the caller holds jobs.mu). A
// run in flight is stopped first (replace).
func (a *Agent) startRun(ctx context.Context, e *jobEntry, trigger string) {
	if e.cancel != nil {
		e.cancel()
		done := e.done
		a.jobs.mu.Unlock()
		<-done
		a.jobs.mu.Lock()
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	e.cancel, e.done = cancel, done
	w, env, volume := e.w, e.env, e.volume
	a.jobs.runs.Add(1)
	go func() {
		defer a.jobs.runs.Done()
		defer close(done)
		defer cancel()
		if volume != "" {
			a.scheduledBackup(rctx, w, volume)
		} else {
			a.runJob(rctx, w, env, trigger)
		}
		a.jobs.mu.Lock()
		if e.done == done {
			e.cancel, e.done = nil, nil
		}
		a.jobs.mu.Unlock()
	}()
}

// runJob runs the job once and reports it: a run in the history (its
// output's last 4 KiB, secrets redacted), an event with its exit code
// (never its output: events leave the host).
func (a *Agent) runJob(ctx context.Context, w *sources.Workload, env []string, trigger string) {
	id := w.ID()
	row, ok, err := a.store.GetRuntime(ctx, id)
	if err != nil || !ok || row.Image == "" {
		a.log.Warn("job not run: its image is not recorded", "workload", id, "error", err)
		return
	}
	started := a.now()
	a.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindJobStarted), Severity: store.SeverityInfo, Commit: row.Commit,
		Message: fmt.Sprintf("job %s started (%s)", id, trigger)})
	d := engine.Deployment{Workload: w, Image: row.Image, Env: env, Volumes: a.volumes(ctx, w), Commit: row.Commit}
	res, rerr := a.engine.RunTask(ctx, d, "job", w.Job.Command, w.Job.RunTimeout())
	a.containersChanged()
	run := store.Run{WorkloadID: id, Task: store.TaskJob, Trigger: trigger, Commit: row.Commit, StartedAt: started,
		DurationMS: res.Took.Milliseconds(), ExitCode: res.ExitCode, TimedOut: res.TimedOut, OutputTail: a.opts.Redactor.Redact(string(res.Output))}
	ev := store.Event{WorkloadID: id, Commit: row.Commit, Kind: string(KindJobSucceeded), Severity: store.SeverityInfo}
	switch {
	case rerr != nil:
		run.Error = a.opts.Redactor.Redact(rerr.Error())
		ev.Kind, ev.Severity = string(KindJobFailed), store.SeverityError
		ev.Message = fmt.Sprintf("job %s failed (%s): %s", id, trigger, run.Error)
	case res.TimedOut:
		ev.Kind, ev.Severity = string(KindJobFailed), store.SeverityError
		ev.Message = fmt.Sprintf("job %s failed (%s): timed out after %s and was stopped", id, trigger, w.Job.RunTimeout())
	case res.ExitCode != 0:
		ev.Kind, ev.Severity = string(KindJobFailed), store.SeverityError
		ev.Message = fmt.Sprintf("job %s failed (%s): exit %d", id, trigger, res.ExitCode)
	default:
		ev.Message = fmt.Sprintf("job %s succeeded (%s) in %s", id, trigger, res.Took.Round(time.Millisecond))
	}
	bg := context.WithoutCancel(ctx)
	if ev.Kind == string(KindJobSucceeded) && a.lastJobFailed(bg, id) {
		// Notifications say once that a failing job works again.
		ev.Kind = string(KindJobRecovered)
		ev.Message = fmt.Sprintf("job %s recovered: it succeeded (%s) in %s after failing", id, trigger, res.Took.Round(time.Millisecond))
	}
	if _, err := a.store.AddRun(bg, run); err != nil {
		a.log.Warn("recording the job run failed", "workload", id, "error", err)
	}
	a.metrics.run(run)
	a.noteJobResult(bg, id, ev)
	a.log.Info("job ran", "workload", id, "trigger", trigger, "exit", res.ExitCode, "timed_out", res.TimedOut, "took", res.Took.Round(time.Millisecond))
	a.events.count(bg, ev)
}

// jobLoop starts due runs every second until ctx ends.
func (a *Agent) jobLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.RunDueJobs(ctx)
		}
	}
}

// stopJobs stops the runs in flight (SIGTERM, their grace) and waits for
// them to be recorded: the agent is stopping.
func (a *Agent) stopJobs() {
	a.jobs.mu.Lock()
	for _, e := range a.jobs.entries {
		if e.cancel != nil {
			e.cancel()
		}
	}
	a.jobs.mu.Unlock()
	a.WaitJobs()
}

// lastJobFailed reports whether the job's last run failed.
func (a *Agent) lastJobFailed(ctx context.Context, id string) bool {
	rs, err := a.store.Runs(ctx, id, 1)
	if err != nil || len(rs) == 0 {
		return false
	}
	return rs[0].ExitCode != 0 || rs[0].TimedOut || rs[0].Error != ""
}

// jobFailedPrefix starts the row message of a job whose last run failed.
const jobFailedPrefix = "last run failed"

// noteJobResult writes the last run into the job's row (the status
// branch, badges, `berth status`); when a job starts or stops failing,
// the next tick pushes a status report.
func (a *Agent) noteJobResult(ctx context.Context, id string, ev store.Event) {
	row, ok, err := a.store.GetRuntime(ctx, id)
	if err != nil || !ok || row.Status != store.StatusScheduled {
		return
	}
	msg := "last run succeeded at " + a.now().UTC().Format(time.RFC3339)
	if ev.Kind == string(KindJobFailed) {
		msg = fmt.Sprintf("%s at %s: %s", jobFailedPrefix, a.now().UTC().Format(time.RFC3339), ev.Message)
	}
	wasFailing := strings.HasPrefix(row.Message, jobFailedPrefix)
	row.Message = msg
	if err := a.store.PutRuntime(ctx, row); err != nil {
		a.log.Warn("recording the job's last run failed", "workload", id, "error", err)
		return
	}
	if wasFailing != (ev.Kind == string(KindJobFailed)) {
		a.jobsChanged.Store(true)
	}
}
