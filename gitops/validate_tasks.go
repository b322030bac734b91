package gitops

import (
	"strings"

	"github.com/berthops/berth/sources"
	"github.com/robfig/cron/v3"
)

// The checks of one-off tasks: a job, a before_deploy task.

// validateJob checks a job: a schedule robfig/cron parses, a command, a
// kind that runs a container from an image, and nothing a service has.
func validateJob(fail failFunc, w *sources.Workload) {
	j := w.Job
	if j == nil {
		return
	}
	if _, err := cron.ParseStandard(j.Schedule); err != nil {
		fail("job.schedule", "%q is not a schedule (five cron fields, @daily, @every 30s, CRON_TZ=Zone …): %v", j.Schedule, err)
	}
	if len(j.Command) == 0 || strings.TrimSpace(strings.Join(j.Command, "")) == "" {
		fail("job.command", "is empty: name the command to run, e.g. [\"/app\", \"cleanup\"]")
	}
	if j.Timeout < 0 {
		fail("job.timeout", "must be positive")
	}
	switch j.Concurrency {
	case "", sources.ConcurrencyForbid, sources.ConcurrencyReplace:
	default:
		fail("job.concurrency", "%q is not one of forbid, replace", j.Concurrency)
	}
	switch j.CatchUp {
	case "", sources.CatchUpNone, sources.CatchUpOnce:
	default:
		fail("job.catch_up", "%q is not one of none, once", j.CatchUp)
	}
	if w.Source != nil && w.Source.Kind() != sources.KindImage && w.Source.Kind() != sources.KindDockerfile {
		fail("job", "a job runs an image or dockerfile source, not %s", w.Source.Kind())
		return
	}
	for _, f := range []struct {
		field string
		set   bool
	}{{"port", w.Port != 0}, {"host_port", w.HostPort != 0}, {"route", w.Route != nil},
		{"healthcheck", w.Healthcheck != nil}, {"before_deploy", w.BeforeDeploy != nil}} {
		if f.set {
			fail(f.field, "a job has no %s: it runs to its end on its schedule", f.field)
		}
	}
}

// validateBeforeDeploy checks the before_deploy task: a command, a kind
// that runs containers Berth creates, a positive timeout.
func validateBeforeDeploy(fail failFunc, w *sources.Workload) {
	t := w.BeforeDeploy
	if t == nil {
		return
	}
	if len(t.Command) == 0 || strings.TrimSpace(strings.Join(t.Command, "")) == "" {
		fail("before_deploy.command", "is empty: name the command to run, e.g. [\"/app\", \"migrate\"]")
	}
	if t.Timeout < 0 {
		fail("before_deploy.timeout", "must be positive")
	}
	if w.Source == nil {
		return
	}
	switch w.Source.Kind() {
	case sources.KindStack:
		fail("before_deploy", "is not supported for stack workloads: Swarm schedules the services itself; run the task from a service, or deploy it as a compose or image workload")
	case sources.KindCompose:
		// The service is checked against the rendered project (checkProject).
	default:
		if t.Service != "" {
			fail("before_deploy.service", "is for compose workloads only (the service to run the task as)")
		}
	}
}

// validateData checks snapshot_before_deploy and on_failure: they need
// named volumes, and restore-data needs the snapshot.
func validateData(fail failFunc, w *sources.Workload) {
	switch w.OnFailure {
	case "", sources.OnFailureKeepData:
	case sources.OnFailureRestoreData:
		if !w.SnapshotBeforeDeploy {
			fail("on_failure", "restore-data needs snapshot_before_deploy: true (the snapshot it restores)")
		}
	default:
		fail("on_failure", "%q is not one of keep-data, restore-data", w.OnFailure)
	}
	if w.SnapshotBeforeDeploy && len(w.Volumes) == 0 {
		fail("snapshot_before_deploy", "the workload has no named volumes to snapshot")
	}
}

// validateVolumeBackup checks a volume's scheduled snapshots.
func validateVolumeBackup(fail failFunc, field string, b *sources.VolumeBackup) {
	if b == nil {
		return
	}
	if _, err := cron.ParseStandard(b.Schedule); err != nil {
		fail(field+".backup.schedule", "%q is not a schedule (five cron fields, @daily, CRON_TZ=Zone …): %v", b.Schedule, err)
	}
	switch b.Consistency {
	case "", sources.ConsistencyPause, sources.ConsistencyStop, sources.ConsistencyLive:
	default:
		fail(field+".backup.consistency", "%q is not one of pause, stop, live", b.Consistency)
	}
	if b.Keep.Last < 0 || b.Keep.Daily < 0 || b.Keep.Weekly < 0 {
		fail(field+".backup.keep", "counts cannot be negative")
	}
}
