package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

// TestReporterFansOutOneDeploy: the deploy path hands the reporter a
// start and an outcome; the reporter writes the events (with the same
// metadata keys for every kind, and the reason the deploy happened) and
// posts pending then one final commit status.
func TestReporterFansOutOneDeploy(t *testing.T) {
	rec := &recordingForge{}
	a, st := testAgent(t, Options{Forge: rec})
	ctx := context.Background()
	w := workload("shop/web", "nginx:2", nil)
	d := deployment{w: w, why: Why{Kind: WhyChanged, Fields: []string{"source.image"}}}
	dec := sources.Decide(w)
	a.report.deployStarted(ctx, "abcdef1234567", d, dec)
	a.report.deployFinished(ctx, Outcome{Workload: w, Commit: "abcdef1234567", Decision: dec, Why: d.why, Image: "nginx:2", Result: Succeeded})
	a.Flush(ctx)
	posts := rec.list()

	evs := allEvents(t, st)
	require.Len(t, evs, 2)
	assert.Equal(t, string(KindDeployStarted), evs[0].Kind)
	assert.Equal(t, "deploying shop/web at abcdef1 via blue-green (default): config changed: source.image", evs[0].Message)
	assert.Equal(t, string(KindDeploySucceeded), evs[1].Kind)
	assert.Equal(t, "deployed shop/web at abcdef1 via blue-green (default)", evs[1].Message)
	for _, k := range []string{"workload_id", "kind", "strategy", "reason", "image", "commit", "why"} {
		assert.Contains(t, evs[1].Metadata, k)
	}
	assert.Equal(t, "config changed: source.image", evs[1].Metadata["why"])
	require.Len(t, posts, 2)
	assert.Equal(t, forge.Pending, posts[0].State)
	assert.Equal(t, forge.Success, posts[1].State)
	assert.Equal(t, "berth/host-a/shop/web", posts[1].Context)
}

// TestFailedOutcomeIsGenericAndRedacted: tool output never reaches an
// event or a commit status (it can echo secrets); other errors are
// redacted and cut to their first line.
func TestFailedOutcomeIsGenericAndRedacted(t *testing.T) {
	rec := &recordingForge{}
	a, st := testAgent(t, Options{Forge: rec})
	a.opts.Redactor.Add("hunter2-hunter2")
	w := workload("shop/web", "nginx:2", nil)
	o := Outcome{Workload: w, Commit: "c1", Decision: sources.Decide(w)}
	tool := &fault.ToolError{Tool: "docker compose up", ExitCode: 1, Output: "pulling hunter2-hunter2 failed", Err: errors.New("exit status 1")}
	tests := []struct {
		name, reason string
		err          error
		stage        Stage
	}{
		{"tool output", "docker compose: docker compose up failed (exit status 1); see the agent's debug log", tool, StageCompose},
		{"first line, redacted", "preparing the image: pulling x: token hunter2-hunter2 → ***", errors.New("pulling x: token hunter2-hunter2 → ***\nmore detail"), StagePrepare},
		{"blue still serving", "readiness gate (the running version is still serving): not ready", fmt.Errorf("%w: %w", engine.ErrStillServing, engine.ErrNotReady), StageGate},
		{"first deploy: nothing serves", "readiness gate: not ready", fmt.Errorf("%w: %w", engine.ErrStillServing, engine.ErrNotReady), StageGate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment{w: w, hasRow: true, row: store.Runtime{WorkloadID: "shop/web", AppliedHash: "h0"}}
			if tc.name == "first deploy: nothing serves" {
				d = deployment{w: w}
			}
			f := a.fail(o, d, tc.stage, tc.err)
			assert.Equal(t, Failed, f.Result)
			assert.NotContains(t, f.Reason, "hunter2")
			assert.NotContains(t, f.Err.Error(), "hunter2", "the full error is redacted too")
			if tc.name == "first line, redacted" {
				assert.Equal(t, "preparing the image: pulling x: token *** → ***", f.Reason)
				return
			}
			if tc.name == "blue still serving" {
				assert.True(t, f.StillServing)
				assert.Contains(t, f.Reason, "still serving")
				return
			}
			if tc.name == "first deploy: nothing serves" {
				assert.False(t, f.StillServing)
				assert.Equal(t, tc.reason, f.Reason)
				return
			}
			assert.Equal(t, tc.reason, f.Reason)
			a.report.deployFinished(context.Background(), f)
		})
	}
	evs := allEvents(t, st)
	require.NotEmpty(t, evs)
	last := evs[len(evs)-1]
	assert.Equal(t, string(KindDeployFailed), last.Kind)
	assert.Equal(t, "deploy of shop/web at c1 failed: docker compose: docker compose up failed (exit status 1); see the agent's debug log", last.Message)
	a.Flush(context.Background())
	assert.Equal(t, forge.Failure, rec.list()[len(rec.list())-1].State)
}

func TestStatusMessage(t *testing.T) {
	w := workload("shop/web", "nginx:2", nil)
	one := &TickResult{Commit: "abcdef123"}
	one.addOutcomes([]Outcome{{Workload: w, Decision: sources.Decide(w)}})
	fail := &TickResult{Commit: "abcdef123"}
	fail.addOutcomes([]Outcome{{Workload: w, Decision: sources.Decide(w), Result: Failed}})
	tests := []struct {
		name string
		res  *TickResult
		want string
	}{
		{"one deployed", one, "berth(host-a): shop/web deployed abcdef1 via blue-green"},
		{"one failed", fail, "berth(host-a): shop/web failed at abcdef1"},
		{"several", &TickResult{Commit: "abcdef123", Deployed: []string{"a/x", "a/y"}, Pruned: []string{"a/z"}, Observed: 1},
			"berth(host-a): 2 deployed, 1 pruned, 1 changed state at abcdef1"},
		{"observed only", &TickResult{Commit: "abcdef123", Observed: 2}, "berth(host-a): 2 changed state at abcdef1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, statusMessage("host-a", tc.res))
		})
	}
}

func TestStatusReportStates(t *testing.T) {
	rows := []store.Runtime{
		{WorkloadID: "a/ok", Status: store.StatusRunning, LastDeploy: store.DeploySucceeded},
		{WorkloadID: "a/failed", Status: store.StatusRunning, LastDeploy: store.DeployFailed, Message: "readiness gate: not ready"},
		{WorkloadID: "a/invalid", Status: store.StatusInvalid, LastDeploy: store.DeployInvalid},
		{WorkloadID: "a/gone", Status: store.StatusMissing, LastDeploy: store.DeploySucceeded},
		{WorkloadID: "a/new"},
	}
	r := statusReport("host-a", &TickResult{Commit: "c"}, rows)
	got := map[string]string{}
	for id, w := range r.Workloads {
		got[id] = w.State
	}
	assert.Equal(t, map[string]string{"a/ok": "running", "a/failed": "degraded", "a/invalid": "invalid", "a/gone": "down", "a/new": "unknown"}, got)
	assert.Equal(t, "degraded: the new version failed, the previous version serving", r.Workloads["a/failed"].Summary)
	assert.Equal(t, "readiness gate: not ready", r.Workloads["a/failed"].Message)
}

func TestTickResultCounts(t *testing.T) {
	w1, w2 := workload("a/x", "nginx:1", nil), workload("a/y", "nginx:1", nil)
	res := &TickResult{}
	assert.False(t, res.Changed())
	res.addOutcomes([]Outcome{{Workload: w1}, {Workload: w2, Result: Failed}})
	assert.Equal(t, []string{"a/x"}, res.Deployed)
	assert.Equal(t, []string{"a/y"}, res.Failed)
	assert.True(t, res.Changed())
	assert.Len(t, res.Timings, 2)
	assert.Equal(t, w2, res.outcome("a/y").Workload)
	assert.Nil(t, res.outcome("a/z"))
}
