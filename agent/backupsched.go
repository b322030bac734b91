package agent

import (
	"context"
	"sort"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/sources"
)

// hasVolumeBackups reports whether a workload schedules snapshots of a
// volume.
func hasVolumeBackups(w *sources.Workload) bool {
	for _, v := range w.Volumes {
		if v.Backup != nil {
			return true
		}
	}
	return false
}

// backupEntryID is the schedule entry of a volume's backups.
func backupEntryID(id, volume string) string { return id + "|backup|" + volume }

// syncBackups puts the volumes' backup schedules beside the jobs' (the
// caller holds jobs.mu): one entry per volume, on the agent that runs the
// workload's jobs (one per workload).
func (a *Agent) syncBackups(ws []*sources.Workload, rows map[string]store.Runtime, here, seen map[string]bool, now time.Time) {
	for _, w := range ws {
		row, ok := rows[w.ID()]
		if !ok || row.ReleaseID == 0 || !here[w.ID()] {
			continue
		}
		names := make([]string, 0, len(w.Volumes))
		for name := range w.Volumes {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			b := w.Volumes[name].Backup
			if b == nil {
				continue
			}
			sched, err := cron.ParseStandard(b.Schedule)
			if err != nil {
				continue // validate refused it already
			}
			key := backupEntryID(w.ID(), name)
			seen[key] = true
			e, ok := a.jobs.entries[key]
			if !ok {
				e = &jobEntry{started: true}
				a.jobs.entries[key] = e
			}
			if e.w == nil || e.w.Volumes[name].Backup.Schedule != b.Schedule {
				e.next = sched.Next(now)
			}
			e.w, e.sched, e.volume = w, sched, name
		}
	}
}

// scheduledBackup takes a volume's scheduled snapshot, then applies its
// retention (keep: last, daily, weekly).
func (a *Agent) scheduledBackup(ctx context.Context, w *sources.Workload, volume string) {
	if _, err := a.Backup(ctx, w.ID(), volume); err != nil {
		a.log.Error("scheduled backup failed", "workload", w.ID(), "volume", volume, "error", err)
		return
	}
	b := w.Volumes[volume].Backup
	all, err := a.store.Backups(ctx, w.ID())
	if err != nil {
		return
	}
	var mine []store.Backup
	var times []time.Time
	for _, s := range all { // newest first
		if s.Volume == volume {
			mine, times = append(mine, s), append(times, s.CreatedAt)
		}
	}
	t, err := a.backupTarget()
	if err != nil {
		return
	}
	for _, i := range backup.Expired(times, backup.Keep{Last: b.Keep.Last, Daily: b.Keep.Daily, Weekly: b.Keep.Weekly}) {
		if err := t.Remove(ctx, mine[i].Location); err != nil {
			a.log.Warn("removing an expired snapshot failed", "workload", w.ID(), "snapshot", mine[i].ID, "error", err)
			continue
		}
		if err := a.store.DeleteBackup(ctx, mine[i].ID); err != nil {
			a.log.Warn("forgetting an expired snapshot failed", "workload", w.ID(), "snapshot", mine[i].ID, "error", err)
		}
	}
}
