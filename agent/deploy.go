package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// act deploys the plan's workloads, Parallel at once, and returns one
// outcome each, sorted by workload id.
func (a *Agent) act(ctx context.Context, commit string, ds []deployment) []Outcome {
	out := make([]Outcome, len(ds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, a.opts.Parallel)
	for i, d := range ds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = a.deployOne(ctx, commit, d)
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Workload.ID() < out[j].Workload.ID() })
	return out
}

// deployOne runs one deploy, records its outcome in the row and hands it
// to the reporter.
func (a *Agent) deployOne(ctx context.Context, commit string, d deployment) Outcome {
	if d.release != nil {
		commit = d.release.Commit
	} else if d.w.PreviewCommit != "" {
		commit = d.w.PreviewCommit
	}
	dec := sources.Decide(d.w)
	a.report.deployStarted(ctx, commit, d, dec)
	start := a.now()
	o := a.deploy(ctx, commit, d, dec)
	o.Took = a.now().Sub(start)
	if o.Result == Failed {
		if note := a.restoreAfterFailure(ctx, d.w, o.snaps, o.cause); note != "" {
			// The serving release was redeployed on the restored data: its
			// row is the truth the failure is recorded on.
			if i := strings.Index(o.Reason, "; not retried"); i >= 0 {
				o.Reason = o.Reason[:i] + note + o.Reason[i:] // said before the hold, which may be cut
			} else {
				o.Reason += note
			}
			if fresh, ok, err := a.store.GetRuntime(ctx, d.w.ID()); err == nil && ok {
				d.row, o.revertedTo = fresh, containerOfRow(fresh)
			}
		}
		a.recordFailure(ctx, d, o)
	} else {
		o.Recovered = wasFailing(d)
	}
	a.report.deployFinished(ctx, o)
	return o
}

// wasFailing reports whether a workload was failing or down before a
// deploy: its success is then a recovery.
func wasFailing(d deployment) bool {
	if !d.hasRow || d.row.AppliedHash == "" && d.row.FailedHash == "" {
		return false
	}
	return d.row.FailedHash != "" || d.row.LastDeploy == store.DeployFailed || d.row.LastDeploy == store.DeployRolledBack ||
		(!sources.Kind(d.row.Kind).Managed() && !serviceRow(d.row) && !serving(current(d.row, d.old)))
}

// deploy deploys one workload with its effective strategy. The serving
// record is written by the deploy itself (before anything old is
// reaped); everything else about the outcome is the reporter's.
func (a *Agent) deploy(ctx context.Context, commit string, d deployment, dec sources.Decision) Outcome {
	o := Outcome{Workload: d.w, Commit: commit, Decision: dec, Why: d.why}
	if reason := a.secrets.failure(d.w.ID()); reason != "" {
		return a.fail(o, d, StageSecrets, errors.New(reason))
	}
	switch src := d.w.Source.(type) {
	case *compose.Config, *compose.SwarmConfig:
		return a.deployStack(ctx, o, d)
	case sources.ImageSource:
		if d.w.Job != nil {
			return a.deployJob(ctx, o, d, src)
		}
		return a.deployContainer(ctx, o, d, src)
	}
	return a.fail(o, d, StagePrepare, errors.New("this source kind cannot be deployed"))
}

// deployContainer prepares the image (or reuses a release's), resolves
// the env and lets the engine replace the old containers.
func (a *Agent) deployContainer(ctx context.Context, o Outcome, d deployment, src sources.ImageSource) Outcome {
	w := d.w
	ref, img, err := a.prepare(ctx, d, src)
	if err != nil {
		return a.fail(o, d, StagePrepare, err)
	}
	if a.engine.Service(w) {
		if ref, err = a.serviceImage(ctx, d, ref, img); err != nil {
			return a.fail(o, d, StagePrepare, err)
		}
	}
	o.Image = ref
	if len(img.Volumes) > 0 {
		o.Decision = o.Decision.ForceRecreate("the image declares volumes " + strings.Join(img.Volumes, ", "))
	}
	snaps, err := a.snapshotBeforeDeploy(ctx, d)
	if err != nil {
		return a.fail(o, d, StageSnapshot, err)
	}
	row := a.baseRow(d)
	var recorded int64 // the release, once Persist wrote it
	env, files := a.secrets.env(w, img.Env), map[string]string(nil)
	if a.engine.Service(w) && !a.opts.SwarmSecretsEnv {
		env, files = a.secrets.files(w, img.Env)
	}
	dep := engine.Deployment{
		Workload: w, Decision: o.Decision, Image: ref, Env: env, Files: files, Volumes: a.volumes(ctx, w),
		Commit: o.Commit, Old: d.old, Current: current(row, d.old), CurrentWorkload: a.servingWorkload(ctx, d),
		SkipBeforeDeploy: a.beforeDeployDone(ctx, w), TaskDone: a.recordTask(ctx, w, o.Commit),
		Persist: func(ctx context.Context, c docker.Container) error {
			applied := row
			setContainer(&applied, c)
			applied.Image, applied.ImageID, applied.ImageDigest = ref, img.ID, firstNonEmpty(img.Digest, img.ID)
			a.applied(&applied, o)
			var rel *store.Release
			switch {
			case d.release != nil:
				applied.ReleaseID = d.release.ID
			case recorded != 0:
				applied.ReleaseID = recorded
			default:
				rel = a.newRelease(o, ref, img)
			}
			applied, err := a.store.RecordDeploy(ctx, applied, rel)
			recorded = applied.ReleaseID
			return err
		},
	}
	res, err := a.engine.Deploy(ctx, dep)
	o.Timing = Timing{Strategy: o.Decision.Strategy, Started: res.Started, Ready: res.Ready, Swapped: res.Swapped,
		Failed: res.FailedAt, Restored: res.RevertedAt}
	o.Release, o.Gate = recorded, res.Gate
	if err == nil {
		return o
	}
	stage := StageStart
	switch {
	case errors.Is(err, engine.ErrTaskFailed):
		stage = StageBeforeDeploy
	case errors.Is(err, engine.ErrNotReady):
		stage = StageGate
	}
	o.revertedTo = res.RevertedTo
	o.snaps, o.cause = snaps, err
	return a.fail(o, d, stage, err)
}

// prepare makes the image present: the source pulls or builds it, or, for
// a recorded release, its image is reused by id.
func (a *Agent) prepare(ctx context.Context, d deployment, src sources.ImageSource) (string, docker.Image, error) {
	if d.release != nil {
		ref := firstNonEmpty(d.release.ImageID, d.release.Image)
		img, ok, err := a.docker.InspectImage(ctx, ref)
		if err == nil && !ok {
			err = fmt.Errorf("the image of the release at %s (%s) is no longer on this host", shortSHA(d.release.Commit), d.release.Image)
		}
		return ref, img, err
	}
	app, err := a.apps.checkout(d.w)
	if err != nil {
		return "", docker.Image{}, err
	}
	prep, err := src.Prepare(ctx, sources.PrepareEnv{
		Docker: a.docker, Root: a.configRoot(), App: app, StaticServer: a.opts.StaticServer, Log: a.log.With("workload", d.w.ID()),
		Timeouts: fault.Timeouts{Pull: a.opts.Timeouts.Pull, Build: a.opts.Timeouts.Build},
	}, d.w)
	if err != nil {
		return "", docker.Image{}, err
	}
	img, ok, err := a.docker.InspectImage(ctx, prep.Image)
	if err == nil && !ok {
		err = fmt.Errorf("the image %s is not on the host after preparing it", prep.Image)
	}
	if err == nil && prep.Pulled {
		if oerr := a.store.OwnImage(ctx, img.ID, prep.Image); oerr != nil {
			a.log.Warn("recording a pulled image failed", "image", prep.Image, "error", oerr)
		}
	}
	return prep.Image, img, err
}

func (a *Agent) newRelease(o Outcome, ref string, img docker.Image) *store.Release {
	spec, err := gitops.EncodeWorkload(o.Workload)
	if err != nil {
		a.log.Warn("encoding the release failed", "workload", o.Workload.ID(), "error", err)
		return nil
	}
	return &store.Release{WorkloadID: o.Workload.ID(), Kind: string(o.Workload.Source.Kind()), Commit: o.Commit, Hash: o.Workload.Hash,
		Image: ref, ImageID: img.ID, ImageDigest: img.Digest, Strategy: o.Decision.String(), Spec: spec, CreatedAt: a.now()}
}

func (a *Agent) baseRow(d deployment) store.Runtime {
	if d.hasRow {
		return d.row
	}
	return store.Runtime{WorkloadID: d.w.ID()}
}

// applied marks a row as serving the outcome's desired state; a failure
// it had is over.
func (a *Agent) applied(row *store.Runtime, o Outcome) {
	row.Kind = string(o.Workload.Source.Kind())
	row.AppliedHash, row.Commit, row.Strategy = o.Workload.Hash, o.Commit, o.Decision.String()
	row.AppliedSpec = gitops.Fields(o.Workload, true)
	clearFailure(row)
	row.UpdatedAt = time.Time{}
}

func setContainer(row *store.Runtime, c docker.Container) {
	row.ContainerID, row.ContainerName = c.ID, c.Name
	row.Upstream = engine.Upstream(c)
	row.Status = c.State
	row.UpdatedAt = time.Time{}
}

// volumes names a workload's named volumes for Docker. A volume made
// before names were injective ("berth-<app>-<name>-<volume>") keeps
// serving its workload: its data is never left behind by a rename.
func (a *Agent) volumes(ctx context.Context, w *sources.Workload) map[string]string {
	out := map[string]string{}
	for _, v := range a.dockerVolumes(ctx, w) {
		out[v.docker] = v.Target
	}
	return out
}

// volumeNames maps each named volume's Docker name to the generation in
// use, where a restore made one (a compose project mounts by these).
func (a *Agent) volumeNames(ctx context.Context, w *sources.Workload) map[string]string {
	out := map[string]string{}
	for _, v := range a.dockerVolumes(ctx, w) {
		if v.docker != v.Name {
			out[v.Name] = v.docker
		}
	}
	return out
}

// dockerVolume is a named volume of a workload with the Docker volume
// that holds its data now.
type dockerVolume struct {
	sources.NamedVolume
	key    string // its name in the workload file
	docker string
}

// dockerVolumes resolves each named volume to the Docker volume in use:
// the generation a restore put in use, else a legacy-named volume that
// still holds the data, else its name. Deploys and backups both ask here.
func (a *Agent) dockerVolumes(ctx context.Context, w *sources.Workload) []dockerVolume {
	vols := sources.NamedVolumes(w)
	if len(vols) == 0 {
		return nil
	}
	gens, err := a.store.VolumeGenerations(ctx)
	if err != nil {
		a.log.Warn("reading volume generations failed", "workload", w.ID(), "error", err)
	}
	out := make([]dockerVolume, 0, len(vols))
	for _, v := range vols {
		dv := dockerVolume{NamedVolume: v, key: volumeKey(w, v), docker: v.Name}
		if cur := gens[v.Name]; cur != "" {
			dv.docker = cur
		} else if _, ok, err := a.docker.VolumeLabels(ctx, v.Name); err == nil && !ok && v.Legacy != "" {
			labels, legacy, err := a.docker.VolumeLabels(ctx, v.Legacy)
			if err == nil && legacy && (labels[docker.LabelWorkload] == "" || labels[docker.LabelWorkload] == w.ID()) {
				dv.docker = v.Legacy
			}
		}
		out = append(out, dv)
	}
	return out
}

// servingWorkload is the workload as the serving version's release had it
// (its readiness check gates a revert to it); nil when unknown. One query,
// per deploy, never per tick.
func (a *Agent) servingWorkload(ctx context.Context, d deployment) *sources.Workload {
	if !d.hasRow || d.row.ReleaseID == 0 || current(d.row, d.old) == nil {
		return nil
	}
	rel, ok, err := a.store.Release(ctx, d.row.ReleaseID)
	if err != nil || !ok {
		return nil
	}
	w, err := gitops.DecodeWorkload(rel.Spec)
	if err != nil {
		return nil
	}
	return w
}

// containerOfRow is the serving container a row names.
func containerOfRow(r store.Runtime) docker.Container {
	c := docker.Container{ID: r.ContainerID, Name: r.ContainerName, State: r.Status}
	if _, port, ok := strings.Cut(r.Upstream, ":"); ok {
		c.HostPort, _ = strconv.Atoi(port)
	}
	return c
}
