package agent_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/testkit/agenttest"
)

// A job on a real dockerd, on the agent's clock: it runs on its schedule
// with the workload's env, never overlaps (concurrency: forbid), a run
// past its timeout is stopped and reported, and with catch_up: once a run
// missed while the agent was down starts once when it is back. No run
// leaves a container behind.
func TestJobRunsOnScheduleWithoutOverlap(t *testing.T) {
	h := newHarness(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	job := func(cmd, timeout, extra string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: nightly\njob:\n  schedule: \"*/5 * * * *\"\n  command: %s\n  timeout: %s\n%s",
			h.Image, cmd, timeout, extra)
	}
	h.Workload("cleanup", job(`[task, "0", "2s", MESSAGE]`, "1m", ""))
	a, st := h.Start("a job", agent.Options{Now: clock})
	ctx := context.Background()
	id := h.ID("cleanup")
	row := agenttest.Rows(t, st)[id]
	assert.Equal(t, store.StatusScheduled, row.Status)
	assert.True(t, strings.HasPrefix(agent.WorkloadViews([]store.Runtime{row})[0].Summary, "scheduled "))
	runs := func() []store.Run {
		rs, err := st.Runs(ctx, id, 0)
		require.NoError(t, err)
		return rs
	}
	taskContainers := func() int {
		out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=berth.task="+id).Output()
		require.NoError(t, err)
		return len(strings.Fields(string(out)))
	}
	assert.Empty(t, runs(), "nothing runs before its time")
	a.RunDueJobs(ctx)
	assert.Empty(t, runs())

	// Its time: a run starts; the next one comes due while it runs and is
	// skipped (forbid).
	now = now.Add(5 * time.Minute)
	a.RunDueJobs(ctx)
	require.Eventually(t, func() bool { return taskContainers() == 1 }, 10*time.Second, 50*time.Millisecond)
	now = now.Add(5 * time.Minute)
	a.RunDueJobs(ctx)
	assert.Equal(t, 1, taskContainers(), "no overlap")
	a.WaitJobs()
	rs := runs()
	require.Len(t, rs, 1)
	assert.Equal(t, store.TriggerSchedule, rs[0].Trigger)
	assert.Equal(t, 0, rs[0].ExitCode)
	assert.Contains(t, rs[0].OutputTail, "MESSAGE=nightly")
	assert.GreaterOrEqual(t, rs[0].DurationMS, int64(1500))
	assert.Zero(t, taskContainers(), "the run's container is removed")
	mfs, err := a.Metrics().Gather()
	require.NoError(t, err)
	var counted uint64
	for _, mf := range mfs {
		if mf.GetName() == "berth_task_run_duration_seconds" {
			for _, m := range mf.GetMetric() {
				counted += m.GetHistogram().GetSampleCount()
			}
		}
	}
	assert.Equal(t, uint64(1), counted, "/metrics counts the run")
	kinds := eventKinds(t, st, id)
	assert.Contains(t, kinds, string(agent.KindJobStarted))
	assert.Contains(t, kinds, string(agent.KindJobSucceeded))

	// A run past its timeout is stopped and reported.
	h.Workload("cleanup", job(`[task, "0", "60s"]`, "2s", ""))
	h.Repo.Push("a slow job")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	now = now.Add(5 * time.Minute)
	a.RunDueJobs(ctx)
	a.WaitJobs()
	rs = runs()
	require.Len(t, rs, 2)
	assert.True(t, rs[0].TimedOut)
	assert.Less(t, rs[0].DurationMS, int64(30_000), "stopped, not waited out")
	evs := agenttest.Events(t, st, id)
	assert.Equal(t, string(agent.KindJobFailed), evs[len(evs)-1].Kind)
	assert.Contains(t, evs[len(evs)-1].Message, "timed out")
	assert.Zero(t, taskContainers())

	// catch_up: once — the agent is down over a scheduled time; back, it
	// runs the job once.
	h.Workload("cleanup", job(`[task, "0", "0"]`, "1m", "  catch_up: once\n"))
	h.Repo.Push("catch up")
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	now = now.Add(time.Hour) // down for an hour
	b, _ := h.Agent(agent.Options{Now: clock})
	_, err = b.Tick(ctx)
	require.NoError(t, err)
	b.WaitJobs()
	rs = runs()
	require.Len(t, rs, 3)
	assert.Equal(t, store.TriggerCatchUp, rs[0].Trigger)
	evs = agenttest.Events(t, st, id)
	assert.Equal(t, string(agent.KindJobRecovered), evs[len(evs)-1].Kind, "a success after a failure says the job recovered")
	b.RunDueJobs(ctx) // not due again until the next */5
	b.WaitJobs()
	assert.Len(t, runs(), 3, "caught up once")
}

func eventKinds(t *testing.T, st *store.Store, id string) []string {
	t.Helper()
	var out []string
	for _, e := range agenttest.Events(t, st, id) {
		out = append(out, e.Kind)
	}
	return out
}
