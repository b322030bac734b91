package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/backup"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
)

// Errors of backups and restores.
var (
	ErrNoSnapshot = errors.New("no such snapshot")
	ErrNoVolume   = errors.New("no such volume")
)

// volumeArchiver reads and writes volumes through the archive API.
type volumeArchiver interface {
	VolumeTar(ctx context.Context, volume, image string, labels map[string]string) (io.ReadCloser, func(), error)
	VolumeUntar(ctx context.Context, volume, image string, labels map[string]string, tarball io.Reader) error
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
}

// Backup event kinds.
const (
	KindBackupSucceeded EventKind = "backup.succeeded"
	KindBackupFailed    EventKind = "backup.failed"
	KindBackupRestored  EventKind = "backup.restored"
)

// served is a workload as its serving release has it, with its row.
func (a *Agent) served(ctx context.Context, id string) (*sources.Workload, store.Runtime, store.Release, error) {
	row, ok, err := a.store.GetRuntime(ctx, id)
	if err != nil {
		return nil, row, store.Release{}, err
	}
	if !ok || row.ReleaseID == 0 {
		return nil, row, store.Release{}, fmt.Errorf("%w: %s (nothing of it was deployed here)", ErrUnknownWorkload, id)
	}
	rel, ok, err := a.store.Release(ctx, row.ReleaseID)
	if err != nil || !ok {
		return nil, row, rel, fmt.Errorf("the serving release of %s is not recorded: %v", id, err)
	}
	w, err := gitops.DecodeWorkload(rel.Spec)
	return w, row, rel, err
}

// volumeKey is a named volume's name in the workload file.
func volumeKey(w *sources.Workload, v sources.NamedVolume) string {
	if v.Key != "" {
		return v.Key
	}
	return strings.TrimPrefix(v.Name, "berth-"+sources.Slug(w)+"_")
}

// Backup snapshots a workload's named volumes (or the one named) to the
// backup target: read through the archive API while its container is
// paused, sealed to the repo's recipients. It waits for a tick in flight.
func (a *Agent) Backup(ctx context.Context, id, volume string) ([]store.Backup, error) {
	if _, err := a.backupTarget(); err != nil {
		return nil, err
	}
	va, ok := a.docker.(volumeArchiver)
	if !ok {
		return nil, errors.New("this Docker client cannot read volumes")
	}
	a.tickMu.Lock()
	defer a.tickMu.Unlock()
	return a.backupLocked(ctx, va, id, volume)
}

// backupLocked is Backup for a caller that holds tickMu (a deploy's
// snapshot_before_deploy).
func (a *Agent) backupLocked(ctx context.Context, va volumeArchiver, id, volume string) ([]store.Backup, error) {
	w, row, _, err := a.served(ctx, id)
	if err != nil {
		return nil, err
	}
	t, err := a.backupTarget()
	if err != nil {
		return nil, err
	}
	recipients, err := a.backupRecipients()
	if err != nil {
		return nil, err
	}
	var out []store.Backup
	for _, v := range a.dockerVolumes(ctx, w) {
		key := v.key
		if volume != "" && key != volume {
			continue
		}
		b, err := a.backupVolume(ctx, va, t, w, row, key, v.docker, recipients)
		if err != nil {
			a.backupResult(ctx, id, key, a.now(), err)
			a.events.count(ctx, store.Event{WorkloadID: id, Kind: string(KindBackupFailed), Severity: store.SeverityError, Commit: row.Commit,
				Metadata: map[string]string{"volume": key}, Message: fmt.Sprintf("backup of %s volume %s failed: %v", id, key, err)})
			return out, err
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no named volume %q", ErrNoVolume, id, volume)
	}
	return out, nil
}

func (a *Agent) backupVolume(ctx context.Context, va volumeArchiver, t backup.Target, w *sources.Workload, row store.Runtime, key, dockerName string, recipients []age.Recipient) (store.Backup, error) {
	start := a.now()
	labels := map[string]string{docker.LabelAgent: a.opts.Name, docker.LabelState: a.opts.StateID}
	consistency := sources.ConsistencyPause
	// The backup settings are git's (a release records the paths only).
	if d := a.cache.desired; d != nil {
		if dw := d.ByID()[w.ID()]; dw != nil {
			if v, ok := dw.Volumes[key]; ok && v.Backup != nil && v.Backup.Consistency != "" {
				consistency = v.Backup.Consistency
			}
		}
	}
	users, image := a.volumeUsers(ctx, dockerName, row)
	if consistency == sources.ConsistencyStop && slices.ContainsFunc(users, func(c docker.Container) bool { return c.Labels[docker.LabelServiceAgent] != "" }) {
		consistency = sources.ConsistencyPause // Swarm would replace a stopped task
	}
	for _, c := range users {
		switch consistency {
		case sources.ConsistencyPause:
			// The processes are frozen for the copy, so the files are read
			// as of one moment.
			if err := va.Pause(ctx, c.ID); err == nil {
				defer func() {
					if err := va.Unpause(context.WithoutCancel(ctx), c.ID); err != nil {
						a.log.Error("unpausing after a backup failed", "workload", w.ID(), "container", c.Name, "error", err)
					}
				}()
			}
		case sources.ConsistencyStop:
			// Stopped for the copy and started again; its route follows
			// its new port at the next tick.
			if err := a.docker.Stop(ctx, c.ID, engine.Grace(w)); err != nil {
				return store.Backup{}, fmt.Errorf("stopping %s for the copy: %w", c.Name, err)
			}
			defer func() {
				if _, err := a.docker.Restart(context.WithoutCancel(ctx), c.ID, w.Port); err != nil {
					a.log.Error("starting a container again after a backup failed", "workload", w.ID(), "container", c.Name, "error", err)
				}
				a.containersChanged()
			}()
		}
	}
	rc, done, err := va.VolumeTar(ctx, dockerName, image, labels)
	if err != nil {
		return store.Backup{}, err
	}
	defer done()
	defer rc.Close()
	m := backup.Manifest{Object: backup.ObjectName(sources.Slug(w), key, start), Workload: w.ID(), Volume: key, DockerName: dockerName,
		Agent: a.opts.Name, Release: row.ReleaseID, Commit: row.Commit, CreatedAt: start}
	m, err = t.Put(ctx, m, func(out io.Writer) (backup.Sum, error) {
		return backup.Seal(out, rc, recipients)
	})
	if err != nil {
		return store.Backup{}, err
	}
	b := store.Backup{WorkloadID: w.ID(), Volume: key, DockerName: dockerName, Release: row.ReleaseID, Commit: row.Commit,
		CreatedAt: start, Size: m.Size, SHA256: m.SHA256, Location: m.Object}
	if b.ID, err = a.store.AddBackup(ctx, b); err != nil {
		return b, err
	}
	kind, again := a.backupResult(ctx, w.ID(), key, start, nil), ""
	if kind == KindBackupRecovered {
		again = " (backups work again after failing)"
	}
	a.events.add(ctx, store.Event{WorkloadID: w.ID(), Kind: string(kind), Severity: store.SeverityInfo, Commit: row.Commit, Metadata: map[string]string{"volume": key},
		Message: fmt.Sprintf("backup %d of %s volume %s: %d bytes in %s to %s (consistency: %s)%s", b.ID, w.ID(), key, m.Size,
			a.now().Sub(start).Round(time.Millisecond), t, consistency, again)})
	return b, nil
}

// backupRecipients are the repo's recipients (berth.yaml
// secrets.recipients): only an identity holder can read a backup.
func (a *Agent) backupRecipients() ([]age.Recipient, error) {
	d := a.cache.desired
	if d == nil || len(d.Repo.Secrets.Recipients) == 0 {
		return nil, errors.New("no recipients to encrypt backups to: set secrets.recipients in berth.yaml")
	}
	return secrets.ParseRecipients(d.Repo.Secrets.Recipients)
}

// Backups lists the snapshots of a workload (or all), newest first,
// with those the target holds that this agent did not take (another
// host's, or this host's before its state was lost).
func (a *Agent) Backups(ctx context.Context, id string) ([]store.Backup, error) {
	if err := a.importSnapshots(ctx); err != nil && !errors.Is(err, ErrNoBackups) {
		a.log.Warn("reading the backup target's snapshots failed", "error", err)
	}
	return a.store.Backups(ctx, id)
}

// importSnapshots records the snapshots the target holds that the state
// does not: a restore on a fresh host needs only the target and an
// identity. A snapshot is tied to the local release of its commit, if
// this host has one.
func (a *Agent) importSnapshots(ctx context.Context) error {
	t, err := a.backupTarget()
	if err != nil {
		return err
	}
	have, err := a.store.Backups(ctx, "")
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, b := range have {
		known[b.Location] = true
	}
	found, lerr := t.List(ctx, func(object string) bool { return known[object] })
	releases := map[string][]store.Release{}
	for _, m := range found {
		if _, ok := releases[m.Workload]; !ok {
			releases[m.Workload], _ = a.store.Releases(ctx, m.Workload)
		}
		b := store.Backup{WorkloadID: m.Workload, Volume: m.Volume, DockerName: m.DockerName, Commit: m.Commit,
			CreatedAt: m.CreatedAt, Size: m.Size, SHA256: m.SHA256, Location: m.Object}
		for _, r := range releases[m.Workload] {
			if r.Commit == m.Commit && (b.Release == 0 || r.ID < b.Release) {
				b.Release = r.ID
			}
		}
		if _, err := a.store.AddBackup(ctx, b); err != nil {
			return err
		}
	}
	return lerr
}

// snapshotBeforeDeploy snapshots a workload's volumes before a new
// version is deployed (snapshot_before_deploy): the snapshots hold the
// serving release's data. A first deploy has nothing to snapshot.
func (a *Agent) snapshotBeforeDeploy(ctx context.Context, d deployment) ([]store.Backup, error) {
	w := d.w
	if !w.SnapshotBeforeDeploy || d.release != nil || !d.hasRow || d.row.ReleaseID == 0 {
		return nil, nil
	}
	if _, err := a.backupTarget(); err != nil {
		return nil, fmt.Errorf("snapshot_before_deploy: %w", err)
	}
	va, ok := a.docker.(volumeArchiver)
	if !ok {
		return nil, errors.New("this Docker client cannot read volumes")
	}
	return a.backupLocked(ctx, va, w.ID(), "")
}

// volumeUsers are the agent's running containers that mount a volume
// (the workload's container, or a compose project's services), paused or
// stopped for a consistent copy, and an image the never-started helper
// that reads the volume can be made from.
func (a *Agent) volumeUsers(ctx context.Context, volume string, row store.Runtime) ([]docker.Container, string) {
	image := row.Image
	cs, err := a.docker.List(ctx, a.opts.Name)
	if sd, ok := a.docker.(interface {
		ServiceContainers(ctx context.Context, agent string) ([]docker.Container, error)
	}); ok && err == nil && a.opts.Engine.Services != nil {
		var tasks []docker.Container
		tasks, err = sd.ServiceContainers(ctx, a.opts.Name)
		cs = append(cs, tasks...)
	}
	if err != nil {
		a.log.Warn("listing the containers that use a volume failed", "volume", volume, "error", err)
		return nil, image
	}
	var out []docker.Container
	for _, c := range cs {
		for _, m := range c.Volumes {
			if m.Name != volume {
				continue
			}
			if image == "" {
				image = c.Image
			}
			if c.State == "running" {
				out = append(out, c)
			}
		}
	}
	return out, image
}
