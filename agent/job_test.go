package agent_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
)

// A job on a real dockerd, on the agent's clock: it runs on its schedule
// with the workload's env, never overlaps (concurrency: forbid), a run
// past its timeout is stopped and reported, and with catch_up: once a run
// missed while the agent was down starts once when it is back. No run
// leaves a container behind.
func TestJobRunsOnScheduleWithoutOverlap(t *testing.T) {
	h := newHarness(t)
	clk := newClock() // the runs read it from their own goroutines
	job := func(cmd, timeout, extra string) string {
		return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: nightly\njob:\n  schedule: \"*/5 * * * *\"\n  command: %s\n  timeout: %s\n%s",
			h.Image, cmd, timeout, extra)
	}
	h.Workload("cleanup", job(`[task, "0", "2s", MESSAGE]`, "1m", ""))
	a, st := h.Start("a job", agent.Options{Now: clk.Now})
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
	clk.Add(5 * time.Minute)
	a.RunDueJobs(ctx)
	require.Eventually(t, func() bool { return taskContainers() == 1 }, 10*time.Second, 50*time.Millisecond)
	clk.Add(5 * time.Minute)
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
	clk.Add(5 * time.Minute)
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
	clk.Add(time.Hour) // down for an hour
	b, _ := h.Agent(agent.Options{Now: clk.Now})
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

// A job placed on two agents runs on exactly one, the first by name among
// the agents that report on the status branch; a failing run shows on
// the status branch as degraded, with its reason.
func TestJobRunsOnOneAgentAndReportsOnTheStatusBranch(t *testing.T) {
	ha, hb := newHarness(t), newHarness(t)
	ha.Workload("sweep", fmt.Sprintf("source:\n  type: image\n  image: %s\njob:\n  schedule: \"*/10 * * * *\"\n  command: [task, \"0\", \"0\"]\n", ha.Image))
	ha.Repo.Push("a job on every agent")
	status := func(h *agenttest.Harness) *gitops.StatusWriter {
		sw, err := gitops.NewStatusWriter(ha.Repo.URL, "berth/status", h.Name, filepath.Join(h.StateDir, "status.git"), gitops.Credentials{})
		require.NoError(t, err)
		return sw
	}
	clk := newClock()
	a, stA := ha.Agent(agent.Options{Status: status(ha), Now: clk.Now})
	repoB, err := gitops.NewRepo(ha.Repo.URL, "main", filepath.Join(hb.StateDir, "repo"), gitops.Credentials{})
	require.NoError(t, err)
	b := hb.AgentOn(repoB, agent.Options{Status: status(hb), Now: clk.Now})
	stB, err := store.Open(context.Background(), filepath.Join(hb.StateDir, "berth.db"))
	require.NoError(t, err)
	t.Cleanup(func() { stB.Close() })
	ctx := context.Background()
	for range 2 { // both deploy and report; then each reads the other's report
		for _, ag := range []*agent.Agent{a, b} {
			_, err := ag.Tick(ctx)
			require.NoError(t, err)
		}
		clk.Add(6 * time.Minute) // past the fleet read's reuse
	}
	clk.Add(10 * time.Minute)
	for _, ag := range []*agent.Agent{a, b} {
		ag.RunDueJobs(ctx)
		ag.WaitJobs()
	}
	id := ha.ID("sweep")
	count := func(st *store.Store) int {
		rs, err := st.Runs(ctx, id, 0)
		require.NoError(t, err)
		return len(rs)
	}
	first, other, firstSt := ha.Name, hb.Name, stA
	if hb.Name < ha.Name {
		first, other, firstSt = hb.Name, ha.Name, stB
	}
	assert.Equal(t, 1, count(stA)+count(stB), "exactly one agent ran it")
	assert.Equal(t, 1, count(firstSt), "the first by name: %s (not %s)", first, other)

	// It fails: the status branch says so.
	ha.Workload("sweep", fmt.Sprintf("source:\n  type: image\n  image: %s\njob:\n  schedule: \"*/10 * * * *\"\n  command: [task, \"4\", \"0\"]\n", ha.Image))
	ha.Repo.Push("the job fails")
	for _, ag := range []*agent.Agent{a, b} {
		_, err := ag.Tick(ctx)
		require.NoError(t, err)
	}
	clk.Add(10 * time.Minute)
	for _, ag := range []*agent.Agent{a, b} {
		ag.RunDueJobs(ctx)
		ag.WaitJobs()
	}
	for _, ag := range []*agent.Agent{a, b} {
		_, err := ag.Tick(ctx) // reports the change of the job's state
		require.NoError(t, err)
	}
	f, err := gitops.FetchFleet(ctx, ha.Repo.URL, "berth/status", gitops.Credentials{}, clk.Now())
	require.NoError(t, err)
	var ws gitops.WorkloadStatus
	for _, fa := range f.Agents {
		if fa.Agent == first {
			ws = fa.Workloads[id]
		}
	}
	assert.Equal(t, "degraded", ws.State, "%+v", ws)
	assert.Contains(t, ws.Summary, "last run failed")
	assert.Contains(t, ws.Summary, "exit 4")
}
