package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/image"
)

// deploy runs one workload's deploy with its effective strategy and
// records the outcome: events through EmitDeployEvent and its runtime row.
// old are the workload's containers from the snapshot.
func (a *Agent) deploy(ctx context.Context, commit string, w *sources.Workload, old []sources.Container, row store.Runtime, hasRow bool) error {
	log := a.log.With("workload", w.ID())
	decision := sources.EffectiveStrategy(w.Source)
	info := DeployInfo{Workload: w, Decision: decision, Commit: commit}
	if !hasRow {
		row = store.Runtime{WorkloadID: w.ID()}
	}
	a.events.EmitDeployEvent(ctx, PhaseStarted, info)
	log.Info("deploying", "strategy", decision.String(), "commit", shortSHA(commit))
	start := time.Now()

	ref, err := a.prepare(ctx, w)
	if err != nil {
		return a.failed(ctx, row, info, "preparing the image", err)
	}
	info.Image = ref
	dep := sources.Deployment{Workload: w, Image: ref, Env: sources.EnvList(w.Env), Commit: commit, Old: old}
	c, err := a.engine.Recreate(ctx, dep)
	if err != nil {
		return a.failed(ctx, row, info, "starting the container", err)
	}

	row.ContainerID, row.ContainerName = c.ID, c.Name
	row.Upstream = ""
	if c.HostPort > 0 {
		row.Upstream = fmt.Sprintf("127.0.0.1:%d", c.HostPort)
	}
	row.Image, row.AppliedHash, row.Commit = ref, w.Hash, commit
	row.Strategy = string(decision.Strategy)
	row.Status, row.LastDeploy, row.Message = c.State, store.DeploySucceeded, ""
	row.UpdatedAt = time.Time{}
	if err := a.store.PutRuntime(ctx, row); err != nil {
		log.Error("recording the deploy failed", "error", err)
	}
	a.events.EmitDeployEvent(ctx, PhaseSucceeded, info)
	log.Info("deployed", "container", c.Name, "upstream", row.Upstream, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// prepare makes the workload's image available: the one switch over
// source kinds on the deploy path.
func (a *Agent) prepare(ctx context.Context, w *sources.Workload) (string, error) {
	switch c := w.Source.(type) {
	case *image.Config:
		return image.Prepare(ctx, a.docker, c, a.log.With("workload", w.ID()))
	default:
		return "", fmt.Errorf("%s sources: %w", w.Source.Kind(), sources.ErrNotImplemented)
	}
}

// failed records a failed deploy. The row keeps pointing at whatever ran
// before; the event and the row carry a short reason, the full error goes
// to the log.
func (a *Agent) failed(ctx context.Context, row store.Runtime, info DeployInfo, stage string, err error) error {
	id := info.Workload.ID()
	a.log.Error("deploy failed", "workload", id, "stage", stage, "error", err)
	info.Reason = stage + ": " + firstLine(err.Error())
	if row.ContainerID == "" {
		row.Status = store.StatusFailed
	}
	row.LastDeploy, row.Message = store.DeployFailed, info.Reason
	row.Strategy = string(info.Decision.Strategy)
	row.UpdatedAt = time.Time{}
	if perr := a.store.PutRuntime(ctx, row); perr != nil {
		a.log.Error("recording the failed deploy failed", "workload", id, "error", perr)
	}
	a.events.EmitDeployEvent(ctx, PhaseFailed, info)
	return fmt.Errorf("deploying %s: %s: %w", id, stage, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
