package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
)

func dataWorkload(image, msg, extra string) string {
	return fmt.Sprintf("source:\n  type: image\n  image: %s\nenv:\n  MESSAGE: %q\n  DATA_FILE: /data/file\nport: 8080\n%s", image, msg, extra)
}

func putData(t *testing.T, upstream, body string) {
	t.Helper()
	agenttest.Get(t, upstream) // wait until it answers
	req, err := http.NewRequest(http.MethodPut, "http://"+upstream+"/data", bytes.NewBufferString(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func getData(t *testing.T, upstream string) string {
	t.Helper()
	agenttest.Get(t, upstream)
	resp, err := http.Get("http://" + upstream + "/data")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestDataSurvivesRedeploys: an image that declares a VOLUME keeps its
// data across redeploys (its anonymous volume is carried over, and the
// image default blue-green is forced to recreate: two copies must not
// share it); so does a workload's named volume. Pruning keeps volumes.
func TestDataSurvivesRedeploys(t *testing.T) {
	for _, tc := range []struct {
		name, extra, image, forced string
	}{
		{"image VOLUME", "", "VOLUME /data", "recreate (forced: the image declares volumes /data)"},
		{"named volume", "volumes:\n  store: /data\n", "", "recreate (forced: volumes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.CleanBuilt()
			img := h.Image
			if tc.image != "" {
				img = dockertest.Image(t, "volume", tc.image)
			}
			h.Workload("web", dataWorkload(img, "v0", tc.extra))
			a, st := h.Start("v0", agent.Options{})
			putData(t, agenttest.Rows(t, st)[h.ID("web")].Upstream, "kept")
			for i := 1; i <= 3; i++ {
				h.Workload("web", dataWorkload(img, fmt.Sprintf("v%d", i), tc.extra))
				h.Repo.Push(fmt.Sprintf("v%d", i))
				res, err := a.Tick(context.Background())
				require.NoError(t, err)
				require.Equal(t, []string{h.ID("web")}, res.Deployed)
				row := agenttest.Rows(t, st)[h.ID("web")]
				assert.Contains(t, agenttest.Get(t, row.Upstream), fmt.Sprintf("v%d", i))
				assert.Equal(t, "kept", getData(t, row.Upstream), "redeploy %d kept the data", i)
				assert.Equal(t, tc.forced, row.Strategy)
			}
			cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
			require.NoError(t, err)
			defer cli.Close()
			vol := agenttest.VolumeOf(t, h.Containers()[h.ID("web")][0], "/data")
			h.Repo.Remove("apps/" + h.App)
			h.Workload("other", agenttest.Web(h.Image, "keeps the repo non-empty"))
			h.Repo.Push("remove web")
			_, err = a.Tick(context.Background())
			require.NoError(t, err)
			assert.Empty(t, h.Containers()[h.ID("web")])
			_, err = cli.VolumeInspect(context.Background(), vol)
			require.NoError(t, err, "pruning a workload keeps its volume (without --prune-volumes)")
			agenttest.RemoveVolume(t, vol)
		})
	}
}

// apiCall calls the agent's API and decodes the answer.
func apiCall(t *testing.T, srv http.Handler, method, path, body string, out any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(method, "http://127.0.0.1"+path, bytes.NewBufferString(body)))
	if out != nil && rec.Code < 300 {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), out), rec.Body.String())
	}
	return rec.Code
}

// TestReleasesRollbackPinResumeSuspend drives the operator's actions
// through the API: a rollback redeploys the previous release and pins it
// (git moving on does not roll it forward) until resume; a suspended
// workload is not healed until resume.
func TestReleasesRollbackPinResumeSuspend(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "v1"))
	a, st := h.Start("v1", agent.Options{SelfHeal: true})
	srv := agenttest.API(a, st)
	base := "/api/workloads/" + h.ID("web")
	commits := map[string]string{"v1": agenttest.Rows(t, st)[h.ID("web")].Commit}
	for _, v := range []string{"v2", "v3"} {
		h.Workload("web", agenttest.Web(h.Image, v))
		commits[v] = h.Repo.Push(v)
		_, err := a.Tick(context.Background())
		require.NoError(t, err)
	}
	var rels []agent.ReleaseView
	require.Equal(t, http.StatusOK, apiCall(t, srv, http.MethodGet, base+"/releases", "", &rels))
	require.Len(t, rels, 3)
	assert.Equal(t, commits["v3"], rels[0].Commit, "newest first")
	assert.True(t, rels[0].Serving)
	assert.NotEmpty(t, rels[0].ImageID)

	var res api.RollbackResult
	require.Equal(t, http.StatusOK, apiCall(t, srv, http.MethodPost, base+"/rollback", "", &res))
	assert.Equal(t, commits["v2"], res.Commit, "by default the release before the serving one")
	assert.Equal(t, agent.StatePinned, res.Now.State)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "v2")

	h.Workload("web", agenttest.Web(h.Image, "v4"))
	h.Repo.Push("v4")
	tick, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, tick.Deployed, "pinned: git moving on does not roll it forward")
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "v2")

	require.Equal(t, http.StatusOK, apiCall(t, srv, http.MethodPost, base+"/rollback", fmt.Sprintf(`{"to": %q}`, commits["v1"][:8]), &res))
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "v1", "a rollback to a named commit")
	assert.Equal(t, http.StatusNotFound, apiCall(t, srv, http.MethodPost, base+"/rollback", `{"to": "deadbeef"}`, nil))

	var view agent.WorkloadView
	require.Equal(t, http.StatusOK, apiCall(t, srv, http.MethodPost, base+"/resume", "", &view))
	tick, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web")}, tick.Deployed, "resumed: what git says deploys")
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "v4")

	require.Equal(t, http.StatusOK, apiCall(t, srv, http.MethodPost, base+"/suspend", "", &view))
	assert.Equal(t, agent.StateSuspended, view.State)
	require.NoError(t, h.Docker.Remove(context.Background(), h.Containers()[h.ID("web")][0].ID, 0))
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, h.Containers()[h.ID("web")], "suspended: no self-heal")
	require.Equal(t, http.StatusOK, apiCall(t, srv, http.MethodPost, base+"/resume", "", &view))
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Len(t, h.Containers()[h.ID("web")], 1, "resumed: healed")
	kinds := kindStrings(agenttest.Events(t, st, h.ID("web")))
	for _, k := range []agent.EventKind{agent.KindWorkloadPinned, agent.KindWorkloadSuspended, agent.KindWorkloadResumed} {
		assert.Contains(t, kinds, string(k))
	}
	assert.Equal(t, http.StatusNotFound, apiCall(t, srv, http.MethodGet, "/api/workloads/nope/nope/releases", "", nil))
}

// TestImagesBeyondRetentionAreRemoved: with --keep-releases 2 a workload
// that was built four times keeps the images of its last two releases;
// the older ones are removed.
func TestImagesBeyondRetentionAreRemoved(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	dockerfile := "source:\n  type: dockerfile\n  context: api\nport: 8080\n"
	var tags []string
	var a *agent.Agent
	var st *store.Store
	for i := 1; i <= 4; i++ {
		h.Workload("api", dockerfile)
		h.Repo.Write("apps/"+h.App+"/api/Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"build %d\"\n", h.Image, i))
		if a == nil {
			a, st = h.Start("build 1", agent.Options{KeepReleases: 2})
		} else {
			h.Repo.Push(fmt.Sprintf("build %d", i))
			_, err := a.Tick(context.Background())
			require.NoError(t, err)
		}
		tags = append(tags, agenttest.Rows(t, st)[h.ID("api")].Image)
	}
	for i, tag := range tags {
		_, ok, err := h.Docker.InspectImage(context.Background(), tag)
		require.NoError(t, err)
		assert.Equal(t, i >= 2, ok, "build %d (%s)", i+1, tag)
	}
	rels, err := st.Releases(context.Background(), h.ID("api"))
	require.NoError(t, err)
	assert.Len(t, rels, 2)
}
