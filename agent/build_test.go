package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/internal/dockertest"
	"github.com/berthops/berth/internal/gitserver"
)

// cleanBuilt removes, when the test ends, the harness's containers and
// then the images and volumes Berth made for its app (in that order: an
// image or volume in use cannot go).
func (h *harness) cleanBuilt() {
	h.t.Cleanup(func() {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			h.t.Error(err)
			return
		}
		defer cli.Close()
		dockertest.RemoveContainers(h.t, cli, h.name)
		ctx := context.Background()
		imgs, err := cli.ImageList(ctx, imageListOptions("berth/"+h.app+"-*"))
		if err != nil {
			h.t.Error(err)
			return
		}
		for _, img := range imgs {
			if _, err := cli.ImageRemove(ctx, img.ID, imageRemoveOptions()); err != nil {
				h.t.Errorf("removing built image %v: %v", img.RepoTags, err)
			}
		}
		vols, err := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", "berth-"+h.app+"-"))})
		if err != nil {
			h.t.Error(err)
			return
		}
		for _, v := range vols.Volumes {
			if err := cli.VolumeRemove(ctx, v.Name, true); err != nil {
				h.t.Errorf("removing volume %s: %v", v.Name, err)
			}
		}
	})
}

func httpGet(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = fmt.Fprint(b, readAll(resp))
	return resp.StatusCode, b.String(), resp.Header
}

func TestDockerfileBuildsOnlyWhenItsContextChanges(t *testing.T) {
	h := newHarness(t)
	h.cleanBuilt()
	dockerfileWorkload := "source:\n  type: dockerfile\n  context: api\n  build_args:\n    FLAVOUR: plain\nport: 8080\n"
	h.workload("api", dockerfileWorkload)
	h.repo.Write("apps/"+h.app+"/api/Dockerfile", fmt.Sprintf("FROM %s\nARG FLAVOUR\nENV MESSAGE=\"built v1 ${FLAVOUR}\"\n", h.image))
	h.workload("site", "source:\n  type: static\n  dir: public\n")
	h.repo.Write("apps/"+h.app+"/public/index.html", "<h1>one</h1>\n")
	h.repo.Push("a dockerfile workload and a site")
	a, st := h.agent(agent.Options{})
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("api"), h.id("site")}, res.Deployed)
	api := rowsByID(t, st)[h.id("api")]
	assert.Contains(t, get(t, api.Upstream), "built v1 plain")
	assert.True(t, strings.HasPrefix(api.Image, "berth/"+h.app+"-api:"), api.Image)

	// A change to the site only: the dockerfile workload is not rebuilt.
	h.repo.Write("apps/"+h.app+"/public/index.html", "<h1>two</h1>\n")
	h.repo.Push("site only")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("site")}, res.Deployed)
	assert.Equal(t, api.ContainerID, rowsByID(t, st)[h.id("api")].ContainerID)

	// A change to the context rebuilds and redeploys.
	h.repo.Write("apps/"+h.app+"/api/Dockerfile", fmt.Sprintf("FROM %s\nARG FLAVOUR\nENV MESSAGE=\"built v2 ${FLAVOUR}\"\n", h.image))
	h.repo.Push("context change")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("api")}, res.Deployed)
	assert.Contains(t, get(t, rowsByID(t, st)[h.id("api")].Upstream), "built v2 plain")

	// A failing build keeps the running version serving; the others deploy.
	h.repo.Write("apps/"+h.app+"/api/Dockerfile", fmt.Sprintf("FROM %s\nRUN false\n", h.image))
	h.repo.Write("apps/"+h.app+"/public/index.html", "<h1>three</h1>\n")
	h.repo.Push("broken build")
	res, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.id("api")}, res.Failed)
	assert.Equal(t, []string{h.id("site")}, res.Deployed)
	assert.Contains(t, get(t, rowsByID(t, st)[h.id("api")].Upstream), "built v2 plain")
	ev := events(t, st, h.id("api"))
	assert.Equal(t, agent.KindDeployFailed, ev[len(ev)-1].Kind)
	assert.Equal(t, "dockerfile", ev[len(ev)-1].Metadata["kind"])
}

func TestDockerfileFromAnAppRepo(t *testing.T) {
	h := newHarness(t)
	h.cleanBuilt()
	srv := gitserver.Start(t)
	app := srv.NewRepo(t, "app")
	app.Write("Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"app one\"\n", h.image)).Push("one")
	h.workload("svc", fmt.Sprintf("source:\n  type: dockerfile\n  git:\n    url: %s\n    ref: main\nport: 8080\n", app.URL))
	h.workload("broken", "source:\n  type: dockerfile\n  git:\n    url: http://127.0.0.1:1/nothing.git\nport: 8080\n")
	h.repo.Push("from an app repo")
	a, st := h.agent(agent.Options{})
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed, "the app repo that cannot be cloned fails alone")
	assert.Equal(t, []string{h.id("svc")}, res.Deployed)
	assert.Equal(t, []string{h.id("broken")}, res.Failed)
	assert.Contains(t, get(t, rowsByID(t, st)[h.id("svc")].Upstream), "app one")
	ev := events(t, st, h.id("broken"))
	assert.Contains(t, ev[len(ev)-1].Message, "app repo")

	// A push to the app repo alone redeploys.
	app.Write("Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"app two\"\n", h.image)).Push("two")
	h.repo.Remove("apps/" + h.app + "/broken.yaml").Push("drop broken")
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Contains(t, get(t, rowsByID(t, st)[h.id("svc")].Upstream), "app two")
	app.Write("Dockerfile", fmt.Sprintf("FROM %s\nENV MESSAGE=\"app three\"\n", h.image)).Push("three")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("svc")}, res.Deployed, "the app repo moved, the config repo did not")
	assert.Contains(t, get(t, rowsByID(t, st)[h.id("svc")].Upstream), "app three")
}

func TestStaticSite(t *testing.T) {
	h := newHarness(t)
	h.cleanBuilt()
	h.workload("site", "source:\n  type: static\n  dir: public\n  spa: true\n  deploy_strategy: blue-green\nhealthcheck:\n  path: /healthz\n")
	h.repo.Write("apps/"+h.app+"/public/index.html", "<h1>home</h1>\n")
	h.repo.Write("apps/"+h.app+"/public/app.js", "console.log('hi')\n")
	h.repo.Push("a site")
	a, st := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	row := rowsByID(t, st)[h.id("site")]
	assert.Equal(t, "blue-green (explicit)", row.Strategy)
	base := "http://" + row.Upstream
	get(t, row.Upstream) // wait until it answers
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
	h.cleanBuilt()
	// Deno's image cannot be pulled here: a local stand-in under the name
	// the workload asks for exercises the build, the volume and the gate.
	deno := dockertest.Image(t, "deno")
	vol := "berth-" + h.app + "-site-data"
	h.workload("site", fmt.Sprintf("source:\n  type: static\n  dir: app\n  runtime: deno\n  deno_image: %s\n  storage: /data\n  deploy_strategy: blue-green\nport: 8080\n", deno))
	h.repo.Write("apps/"+h.app+"/app/main.ts", "Deno.serve(() => new Response('hi'))\n")
	h.repo.Push("deno with storage")
	a, st := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	row := rowsByID(t, st)[h.id("site")]
	assert.Equal(t, "recreate (forced: storage-backed deno site)", row.Strategy)
	ev := events(t, st, h.id("site"))
	last := ev[len(ev)-1]
	assert.Equal(t, "forced", last.Metadata["reason"])
	assert.Equal(t, "storage-backed deno site", last.Metadata["forced_by"])
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	_, err = cli.VolumeInspect(context.Background(), vol)
	require.NoError(t, err, "the storage volume exists")
}
