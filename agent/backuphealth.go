package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
)

// Backup event kinds of a volume's health.
const (
	KindBackupRecovered EventKind = "backup.recovered"
	KindBackupStale     EventKind = "backup.stale"
)

// backupHealth is what the agent knows of each scheduled volume's
// backups: the last success (for the status branch and the staleness
// warning) and whether the last attempt failed (for one notification on
// recovery). It is seeded from the state once, then kept in memory.
type backupHealth struct {
	mu     sync.Mutex
	seeded bool
	vols   map[string]*volumeHealth // by workload id + "|" + volume
}

type volumeHealth struct {
	lastOK    time.Time // the newest snapshot; zero: none yet
	since     time.Time // when its schedule started here
	failing   bool
	known     bool // failing was read from the events
	staleSaid bool // the stale warning went out since the last success
}

func healthKey(id, volume string) string { return id + "|" + volume }

// volume is the entry of a volume, seeded from the state on first use.
func (a *Agent) volumeHealth(ctx context.Context, id, volume string) *volumeHealth {
	h := &a.backups
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.seeded {
		h.seeded, h.vols = true, map[string]*volumeHealth{}
		if all, err := a.store.Backups(ctx, ""); err == nil {
			for _, b := range all { // newest first
				k := healthKey(b.WorkloadID, b.Volume)
				if h.vols[k] == nil {
					h.vols[k] = &volumeHealth{lastOK: b.CreatedAt}
				}
			}
		}
	}
	v := h.vols[healthKey(id, volume)]
	if v == nil {
		v = &volumeHealth{since: a.now()}
		h.vols[healthKey(id, volume)] = v
	}
	if !v.known {
		// Whether the last attempt failed survives a restart: the newest
		// backup event of the volume says.
		v.known = true
		if evs, err := a.store.Events(ctx, store.EventFilter{WorkloadID: id, Limit: 200}); err == nil {
			for _, e := range evs {
				if e.Metadata["volume"] == volume && strings.HasPrefix(e.Kind, "backup.") && e.Kind != string(KindBackupStale) && e.Kind != string(KindBackupRestored) {
					v.failing = e.Kind == string(KindBackupFailed)
					break
				}
			}
		}
	}
	return v
}

// backupResult notes a backup's outcome; it returns the event kind a
// success is reported as: backup.recovered after a failure, once.
func (a *Agent) backupResult(ctx context.Context, id, volume string, at time.Time, err error) EventKind {
	v := a.volumeHealth(ctx, id, volume)
	a.backups.mu.Lock()
	defer a.backups.mu.Unlock()
	a.jobsChanged.Store(true) // the status branch shows the last backup
	if err != nil {
		v.failing = true
		return KindBackupFailed
	}
	was := v.failing
	v.lastOK, v.failing, v.staleSaid = at, false, false
	if was {
		return KindBackupRecovered
	}
	return KindBackupSucceeded
}

// checkStale warns, once until the next success, when a volume's newest
// snapshot is older than two periods of its schedule (or none was taken
// in two periods since its schedule started here).
func (a *Agent) checkStale(ctx context.Context, id, volume string, sched cron.Schedule, now time.Time) {
	v := a.volumeHealth(ctx, id, volume)
	next := sched.Next(now)
	period := sched.Next(next).Sub(next)
	a.backups.mu.Lock()
	from, said := v.lastOK, v.staleSaid
	if from.IsZero() {
		from = v.since
	}
	stale := now.Sub(from) > 2*period
	if stale && !said {
		v.staleSaid = true
		a.jobsChanged.Store(true)
	}
	a.backups.mu.Unlock()
	if !stale || said {
		return
	}
	what := "no snapshot was taken"
	if !v.lastOK.IsZero() {
		what = "the newest snapshot was taken " + v.lastOK.UTC().Format(time.RFC3339)
	}
	a.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindBackupStale), Severity: store.SeverityWarn, Metadata: map[string]string{"volume": volume},
		Message: fmt.Sprintf("backups of %s volume %s are stale: %s, more than two periods (%s each) ago", id, volume, what, period)})
}

// volumeBackups is each workload's volumes' last snapshot for the status
// branch (no query: from memory).
func (a *Agent) volumeBackups() map[string]map[string]gitops.VolumeBackup {
	h := &a.backups
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]map[string]gitops.VolumeBackup{}
	for k, v := range h.vols {
		id, volume, _ := strings.Cut(k, "|")
		if out[id] == nil {
			out[id] = map[string]gitops.VolumeBackup{}
		}
		out[id][volume] = gitops.VolumeBackup{LastAt: v.lastOK, Failing: v.failing, Stale: v.staleSaid}
	}
	return out
}
