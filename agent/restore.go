package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/sources"
)

// Restore puts a snapshot of a workload's volume back: it checks the
// snapshot (identity, checksum) before anything changes, restores it into
// a fresh generation of the volume (Docker cannot rename one), and
// redeploys the serving release on it through the recreate path. The
// previous generation is kept. snapshot 0 is the newest of the volume.
func (a *Agent) Restore(ctx context.Context, id, volume string, snapshot int64) (Outcome, error) {
	if _, err := a.backupTarget(); err != nil {
		return Outcome{}, err
	}
	va, ok := a.docker.(volumeArchiver)
	if !ok {
		return Outcome{}, errors.New("this Docker client cannot write volumes")
	}
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	if err := a.importSnapshots(ctx); err != nil {
		a.log.Warn("reading the backup target's snapshots failed", "error", err)
	}
	return a.restoreLocked(ctx, va, id, volume, snapshot)
}

// restoreLocked is Restore for a caller that holds tickMu (a failed
// deploy's on_failure: restore-data).
func (a *Agent) restoreLocked(ctx context.Context, va volumeArchiver, id, volume string, snapshot int64) (Outcome, error) {
	w, row, rel, err := a.served(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	b, err := a.pickSnapshot(ctx, id, volume, snapshot)
	if err != nil {
		return Outcome{}, err
	}
	var base string
	for _, v := range sources.NamedVolumes(w) {
		if volumeKey(w, v) == volume {
			base = v.Name
		}
	}
	if base == "" {
		return Outcome{}, fmt.Errorf("%w: %s has no named volume %q", ErrNoVolume, id, volume)
	}
	if err := a.checkSnapshot(ctx, b); err != nil {
		return Outcome{}, err
	}
	image := row.Image
	if image == "" { // a compose project: any image of its own makes the helper
		_, image = a.volumeUsers(ctx, b.DockerName, row)
	}
	next, err := a.restoreGeneration(ctx, va, id, base, image, b)
	if err != nil {
		return Outcome{}, err
	}
	cs, err := a.docker.List(ctx, a.opts.Name)
	if err != nil {
		return Outcome{}, err
	}
	d := deployment{w: w, release: &rel, row: row, hasRow: true, old: newSnapshot(nil, cs).containers[id], why: Why{Kind: WhyRestore, Commit: rel.Commit}}
	o := a.deployOne(ctx, rel.Commit, d)
	a.containersChanged()
	if o.Result == Failed {
		return o, fmt.Errorf("restoring %s volume %s: the redeploy failed: %s", id, volume, o.Reason)
	}
	a.events.add(ctx, store.Event{WorkloadID: id, Kind: string(KindBackupRestored), Severity: store.SeverityInfo, Commit: rel.Commit,
		Message: fmt.Sprintf("%s volume %s restored from snapshot %d (taken %s at %s) into %s; the previous generation is kept", id, volume, b.ID,
			b.CreatedAt.Format(time.RFC3339), shortSHA(b.Commit), next)})
	return o, nil
}

// pickSnapshot is the snapshot asked for, or the newest of the volume.
func (a *Agent) pickSnapshot(ctx context.Context, id, volume string, snapshot int64) (store.Backup, error) {
	all, err := a.store.Backups(ctx, id)
	if err != nil {
		return store.Backup{}, err
	}
	for _, b := range all {
		if b.Volume == volume && (snapshot == 0 || b.ID == snapshot) {
			return b, nil
		}
	}
	return store.Backup{}, fmt.Errorf("%w: %s volume %s has no snapshot %v", ErrNoSnapshot, id, volume, map[bool]any{true: "at all", false: snapshot}[snapshot == 0])
}

// restoreAfterFailure gives a failed deploy's workload its pre-deploy
// data back (on_failure: restore-data) when the new version ran — its
// before_deploy task or its container — and so may have written: each
// snapshot goes into a fresh volume generation and the serving release is
// redeployed on it. It says what it did, for the deploy's event.
func (a *Agent) restoreAfterFailure(ctx context.Context, w *sources.Workload, snaps []store.Backup, err error) string {
	ran := errors.Is(err, engine.ErrTaskFailed) || errors.Is(err, engine.ErrReverted)
	if w.OnFailure != sources.OnFailureRestoreData || len(snaps) == 0 || !ran {
		return ""
	}
	va, ok := a.docker.(volumeArchiver)
	if !ok {
		return "; restoring the data failed: this Docker client cannot write volumes"
	}
	start := a.now()
	bg := context.WithoutCancel(ctx)
	for _, b := range snaps {
		if _, rerr := a.restoreLocked(bg, va, w.ID(), b.Volume, b.ID); rerr != nil {
			a.log.Error("restoring the pre-deploy data failed", "workload", w.ID(), "volume", b.Volume, "error", rerr)
			return fmt.Sprintf("; restoring the pre-deploy data of volume %s failed: %v", b.Volume, rerr)
		}
	}
	return fmt.Sprintf("; the pre-deploy data was restored (on_failure: restore-data, %s)", a.now().Sub(start).Round(time.Millisecond))
}

// restoreReleaseData puts back, for each named volume of w, the newest
// snapshot taken while rel served, each into a fresh generation; the
// release's deploy that follows mounts them. Every snapshot is checked
// before any is restored.
func (a *Agent) restoreReleaseData(ctx context.Context, w *sources.Workload, rel store.Release) error {
	if _, err := a.backupTarget(); err != nil {
		return err
	}
	va, ok := a.docker.(volumeArchiver)
	if !ok {
		return errors.New("this Docker client cannot write volumes")
	}
	all, err := a.store.Backups(ctx, w.ID())
	if err != nil {
		return err
	}
	type pick struct {
		base string
		b    store.Backup
	}
	var picks []pick
	for _, v := range sources.NamedVolumes(w) {
		key := volumeKey(w, v)
		found := false
		for _, b := range all { // newest first
			if b.Volume == key && b.Release == rel.ID {
				picks, found = append(picks, pick{v.Name, b}), true
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: no snapshot of volume %s was taken while %s served", ErrNoSnapshot, key, shortSHA(rel.Commit))
		}
	}
	for _, p := range picks { // every one whole before any is restored
		if err := a.checkSnapshot(ctx, p.b); err != nil {
			return err
		}
	}
	for _, p := range picks {
		next, err := a.restoreGeneration(ctx, va, w.ID(), p.base, rel.Image, p.b)
		if err != nil {
			return err
		}
		a.events.add(ctx, store.Event{WorkloadID: w.ID(), Kind: string(KindBackupRestored), Severity: store.SeverityInfo, Commit: rel.Commit,
			Message: fmt.Sprintf("%s volume %s: snapshot %d (taken while %s served) restored into %s for the rollback", w.ID(), p.b.Volume, p.b.ID, shortSHA(rel.Commit), next)})
	}
	return nil
}

// checkSnapshot reads a snapshot through once: it must decrypt and match
// its checksum before anything is restored from it.
func (a *Agent) checkSnapshot(ctx context.Context, b store.Backup) error {
	t, err := a.backupTarget()
	if err != nil {
		return err
	}
	r, err := t.Open(ctx, b.Location)
	if err != nil {
		return fmt.Errorf("snapshot %d: %w", b.ID, err)
	}
	defer r.Close()
	if err := backup.Open(io.Discard, r, a.opts.BackupIdentities, backup.Sum{Size: b.Size, SHA256: b.SHA256}); err != nil {
		return fmt.Errorf("snapshot %d refused: %w", b.ID, err)
	}
	return nil
}

// restoreGeneration restores a checked snapshot into a fresh generation
// of the volume base ("<base>-r<snapshot>": Docker cannot rename one) and
// puts it in use; the previous generation is kept.
func (a *Agent) restoreGeneration(ctx context.Context, va volumeArchiver, id, base, image string, b store.Backup) (string, error) {
	next := fmt.Sprintf("%s-r%d", base, b.ID)
	t, err := a.backupTarget()
	if err != nil {
		return "", err
	}
	sealed, err := t.Open(ctx, b.Location)
	if err != nil {
		return "", err
	}
	defer sealed.Close()
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(backup.Open(pw, sealed, a.opts.BackupIdentities, backup.Sum{Size: b.Size, SHA256: b.SHA256}))
	}()
	labels := map[string]string{docker.LabelAgent: a.opts.Name, docker.LabelWorkload: id, docker.LabelState: a.opts.StateID}
	if err := va.VolumeUntar(ctx, next, image, labels, pr); err != nil {
		return "", fmt.Errorf("restoring snapshot %d into %s: %w", b.ID, next, err)
	}
	return next, a.store.SetVolumeGeneration(ctx, base, next)
}
