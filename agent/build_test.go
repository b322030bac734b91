package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
)

func httpGet(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func TestDockerfileBuildsOnlyWhenItsContextChanges(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	dockerfileWorkload := "source:\n  type: dockerfile\n  context: api\n  build_args:\n    FLAVOUR: plain\nport: 8080\n"
	h.Workload("api", dockerfileWorkload)
	h.Repo.Write("apps/"+h.App+"/api/Dockerfile", fmt.Sprintf("FROM %s\nARG FLAVOUR\nENV MESSAGE=\"built v1 ${FLAVOUR}\"\n", h.Image))
	h.Workload("site", "source:\n  type: static\n  dir: public\n")
	h.Repo.Write("apps/"+h.App+"/public/index.html", "<h1>one</h1>\n")
	h.Repo.Push("a dockerfile workload and a site")
	a, st := h.Agent(agent.Options{})
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("api"), h.ID("site")}, res.Deployed)
	api := agenttest.Rows(t, st)[h.ID("api")]
	assert.Contains(t, agenttest.Get(t, api.Upstream), "built v1 plain")
	assert.True(t, strings.HasPrefix(api.Image, "berth/"+h.App+"_api:"), api.Image)

	// A change to the site only: the dockerfile workload is not rebuilt.
	h.Repo.Write("apps/"+h.App+"/public/index.html", "<h1>two</h1>\n")
	h.Repo.Push("site only")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("site")}, res.Deployed)
	assert.Equal(t, api.ContainerID, agenttest.Rows(t, st)[h.ID("api")].ContainerID)

	// A change to the context rebuilds and redeploys.
	h.Repo.Write("apps/"+h.App+"/api/Dockerfile", fmt.Sprintf("FROM %s\nARG FLAVOUR\nENV MESSAGE=\"built v2 ${FLAVOUR}\"\n", h.Image))
	h.Repo.Push("context change")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("api")}, res.Deployed)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("api")].Upstream), "built v2 plain")

	// A failing build keeps the running version serving; the others deploy.
	h.Repo.Write("apps/"+h.App+"/api/Dockerfile", fmt.Sprintf("FROM %s\nRUN false\n", h.Image))
	h.Repo.Write("apps/"+h.App+"/public/index.html", "<h1>three</h1>\n")
	h.Repo.Push("broken build")
	res, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("api")}, res.Failed)
	assert.Equal(t, []string{h.ID("site")}, res.Deployed)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("api")].Upstream), "built v2 plain")
	ev := agenttest.Events(t, st, h.ID("api"))
	assert.Equal(t, string(agent.KindDeployFailed), ev[len(ev)-1].Kind)
	assert.Equal(t, "dockerfile", ev[len(ev)-1].Metadata["kind"])
}

func TestDockerfileFromAnAppRepo(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	srv := gitserver.Start(t)
	app := srv.NewRepo(t, "app")
	app.Write("Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"app one\"\n", h.Image)).Push("one")
	h.Workload("svc", fmt.Sprintf("source:\n  type: dockerfile\n  git:\n    url: %s\n    ref: main\nport: 8080\n", app.URL))
	h.Workload("broken", "source:\n  type: dockerfile\n  git:\n    url: http://127.0.0.1:1/nothing.git\nport: 8080\n")
	h.Repo.Push("from an app repo")
	a, st := h.Agent(agent.Options{})
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed, "the app repo that cannot be cloned fails alone")
	assert.Equal(t, []string{h.ID("svc")}, res.Deployed)
	assert.Equal(t, []string{h.ID("broken")}, res.Failed)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("svc")].Upstream), "app one")
	ev := agenttest.Events(t, st, h.ID("broken"))
	assert.Contains(t, ev[len(ev)-1].Message, "app repo")

	// A push to the app repo alone redeploys.
	app.Write("Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"app two\"\n", h.Image)).Push("two")
	h.Repo.Remove("apps/" + h.App + "/broken.yaml").Push("drop broken")
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("svc")].Upstream), "app two")
	app.Write("Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"app three\"\n", h.Image)).Push("three")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("svc")}, res.Deployed, "the app repo moved, the config repo did not")
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("svc")].Upstream), "app three")
}

func TestStaticSite(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	h.Workload("site", "source:\n  type: static\n  dir: public\n  spa: true\n  deploy_strategy: blue-green\nhealthcheck:\n  path: /healthz\n")
	h.Repo.Write("apps/"+h.App+"/public/index.html", "<h1>home</h1>\n")
	h.Repo.Write("apps/"+h.App+"/public/app.js", "console.log('hi')\n")
	_, st := h.Start("a site", agent.Options{})
	row := agenttest.Rows(t, st)[h.ID("site")]
	assert.Equal(t, "blue-green (explicit)", row.Strategy)
	base := "http://" + row.Upstream
	agenttest.Get(t, row.Upstream) // wait until it answers
	code, body, hdr := httpGet(t, base+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "home")
	assert.Equal(t, "no-cache", hdr.Get("Cache-Control"))
	code, body, hdr = httpGet(t, base+"/app.js")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "console.log")
	assert.Equal(t, "public, max-age=3600", hdr.Get("Cache-Control"))
	code, body, _ = httpGet(t, base+"/some/client/route")
	assert.Equal(t, http.StatusOK, code, "spa: unknown paths get index.html")
	assert.Contains(t, body, "home")
	code, _, _ = httpGet(t, base+"/missing.png")
	assert.Equal(t, http.StatusNotFound, code)
	code, _, _ = httpGet(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)
}

func TestDenoSiteWithStorageIsForcedToRecreate(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	// Deno's image cannot be pulled here: a local stand-in under the name
	// the workload asks for exercises the build, the volume and the gate.
	deno := dockertest.Image(t, "deno")
	vol := "berth-" + h.App + "_site_data"
	h.Workload("site", fmt.Sprintf("source:\n  type: static\n  dir: app\n  runtime: deno\n  deno_image: %s\n  storage: /data\n  deploy_strategy: blue-green\nport: 8080\n", deno))
	h.Repo.Write("apps/"+h.App+"/app/main.ts", "Deno.serve(() => new Response('hi'))\n")
	_, st := h.Start("deno with storage", agent.Options{})
	row := agenttest.Rows(t, st)[h.ID("site")]
	assert.Equal(t, "recreate (forced: storage-backed deno site)", row.Strategy)
	ev := agenttest.Events(t, st, h.ID("site"))
	last := ev[len(ev)-1]
	assert.Equal(t, "forced", last.Metadata["reason"])
	assert.Equal(t, "storage-backed deno site", last.Metadata["forced_by"])
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	_, err = cli.VolumeInspect(context.Background(), vol)
	require.NoError(t, err, "the storage volume exists")
}
