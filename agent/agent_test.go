package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dockertest.RemoveImages()
	agenttest.RemoveBerth()
	os.Exit(code)
}

// newHarness is the shared harness, with the static berth binary for
// static sites.
func newHarness(t *testing.T) *agenttest.Harness {
	t.Helper()
	return agenttest.New(t).WithSiteServer()
}

func TestFirstDeployThenIdleTick(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "hello v1"))
	commit := h.Repo.Push("add web")
	a, st := h.Agent(agent.Options{})

	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, commit, res.Commit)
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)

	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1)
	c := cs[0]
	assert.True(t, c.Running())
	assert.Equal(t, "berth-"+h.App+"_web", c.Name)
	assert.Equal(t, commit, c.Labels[docker.LabelCommit])
	assert.NotEmpty(t, c.Labels[docker.LabelHash])
	assert.NotZero(t, c.HostPort, "port published on 127.0.0.1")

	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Equal(t, c.ID, row.ContainerID)
	assert.Equal(t, store.StatusRunning, row.Status)
	assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", c.HostPort), row.Upstream)
	assert.Equal(t, c.Labels[docker.LabelHash], row.AppliedHash)
	assert.Contains(t, agenttest.Get(t, row.Upstream), "hello v1")
	assert.Equal(t, []agent.EventKind{agent.KindDeployStarted, agent.KindDeploySucceeded}, agenttest.Kinds(agenttest.Events(t, st, h.ID("web"))))
	ev := agenttest.Events(t, st, h.ID("web"))[1]
	assert.Equal(t, h.ID("web"), ev.Metadata["workload_id"])
	assert.Equal(t, "recreate", ev.Metadata["strategy"])
	assert.Equal(t, "recreate (explicit)", agenttest.Rows(t, st)[h.ID("web")].Strategy)
	assert.Equal(t, commit, ev.Metadata["commit"])

	// Nothing moved: the tick is a no-op and the container is the same.
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.True(t, res.NoOp)
	assert.Empty(t, res.Deployed)
	cs = h.Containers()[h.ID("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, c.ID, cs[0].ID)
	assert.Len(t, agenttest.Events(t, st, h.ID("web")), 2, "an idle tick writes no events")
}

func TestRedeployOnlyWhatChanged(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "web v1"))
	h.Workload("api", agenttest.Web(h.Image, "api v1"))
	a, st := h.Start("two workloads", agent.Options{})
	before := h.Containers()

	h.Workload("web", agenttest.Web(h.Image, "web v2"))
	h.Repo.Write("README.md", "a change elsewhere in the repo\n")
	h.Repo.Push("change web's env")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)

	after := h.Containers()
	require.Len(t, after[h.ID("web")], 1, "the old container is gone")
	assert.NotEqual(t, before[h.ID("web")][0].ID, after[h.ID("web")][0].ID)
	assert.Equal(t, before[h.ID("api")][0].ID, after[h.ID("api")][0].ID, "api did not change, so it was not redeployed")
	rows := agenttest.Rows(t, st)
	assert.Contains(t, agenttest.Get(t, rows[h.ID("web")].Upstream), "web v2")
	assert.Contains(t, agenttest.Get(t, rows[h.ID("api")].Upstream), "api v1")

	// A commit that touches no workload redeploys nothing.
	h.Repo.Write("README.md", "another unrelated change\n")
	h.Repo.Push("docs only")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.False(t, res.NoOp)
	assert.Empty(t, res.Deployed)
	assert.Equal(t, after[h.ID("web")][0].ID, h.Containers()[h.ID("web")][0].ID)
}

func TestBrokenSiblingFailsAlone(t *testing.T) {
	h := newHarness(t)
	h.Workload("good", agenttest.Web(h.Image, "good"))
	h.Workload("bad", "source:\n  type: image\n  image: "+h.Image+"\n  deploy_strategy: bluegreen\nport: 8080\n")
	h.Repo.Push("one good, one bad")
	a, st := h.Agent(agent.Options{})

	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("good")}, res.Deployed)
	assert.Equal(t, []string{h.ID("bad")}, res.Invalid)
	assert.Len(t, h.Containers()[h.ID("good")], 1)
	assert.Empty(t, h.Containers()[h.ID("bad")])

	evs := agenttest.Events(t, st, h.ID("bad"))
	require.Len(t, evs, 1)
	assert.Equal(t, string(agent.KindWorkloadInvalid), evs[0].Kind)
	assert.Equal(t, store.SeverityError, evs[0].Severity)
	assert.Equal(t, fmt.Sprintf(`apps/%s/bad.yaml:4:20: source.deploy_strategy: "bluegreen" is not one of "", "recreate", "blue-green"`, h.App), evs[0].Message)
	assert.Equal(t, store.DeployInvalid, agenttest.Rows(t, st)[h.ID("bad")].LastDeploy)

	// A broken edit of a running workload keeps the running version.
	running := h.Containers()[h.ID("good")][0].ID
	h.Workload("good", "source:\n  type: image\n  image: "+h.Image+"\n  colour: blue\n")
	h.Repo.Push("break good")
	_, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	h.RequireOnlyRunning(t, "good", running)
}

func TestPruneAndAllowEmptyGuard(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "web"))
	h.Workload("api", agenttest.Web(h.Image, "api"))
	a, st := h.Start("two", agent.Options{})

	h.Repo.Remove(fmt.Sprintf("apps/%s/api.yaml", h.App))
	h.Repo.Push("remove api")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("api")}, res.Pruned)
	assert.Empty(t, h.Containers()[h.ID("api")])
	assert.NotContains(t, agenttest.Rows(t, st), h.ID("api"))
	evs := agenttest.Events(t, st, h.ID("api"))
	assert.Equal(t, string(agent.KindWorkloadPruned), evs[len(evs)-1].Kind)

	// Emptying the repo does not prune the last workload without --allow-empty.
	h.Repo.Remove("apps")
	h.Repo.Write("README.md", "empty\n")
	h.Repo.Push("remove everything")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Pruned)
	assert.Len(t, h.Containers()[h.ID("web")], 1, "still running")
	refused, err := st.Events(context.Background(), store.EventFilter{Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, string(agent.KindPruneRefused), refused[0].Kind)
	assert.Contains(t, refused[0].Message, "--allow-empty")

	b, _ := h.Agent(agent.Options{AllowEmpty: true})
	res, err = b.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web")}, res.Pruned)
	assert.Empty(t, h.Containers())
}

func TestRestartKeepsState(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "web"))
	h.Start("web", agent.Options{})
	id := h.Containers()[h.ID("web")][0].ID

	b, st := h.Agent(agent.Options{}) // a new process on the same state dir
	res, err := b.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Deployed)
	cs := h.Containers()[h.ID("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, id, cs[0].ID)
	assert.Equal(t, id, agenttest.Rows(t, st)[h.ID("web")].ContainerID)
}

func TestVanishedContainer(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "web"))
	a, st := h.Start("web", agent.Options{SelfHeal: false})
	id := h.Containers()[h.ID("web")][0].ID

	// When the snapshot cannot be taken, nothing is marked missing.
	broken, err := docker.New("unix://" + filepath.Join(t.TempDir(), "no-docker.sock"))
	require.NoError(t, err)
	b, _ := h.AgentWith(agent.Options{}, broken)
	require.NoError(t, h.Docker.Remove(context.Background(), id, 0))
	_, err = b.Tick(context.Background())
	require.Error(t, err)
	assert.Equal(t, store.StatusRunning, agenttest.Rows(t, st)[h.ID("web")].Status)

	// Without self-heal the workload is marked missing, with an event.
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, store.StatusMissing, agenttest.Rows(t, st)[h.ID("web")].Status)
	evs := agenttest.Events(t, st, h.ID("web"))
	assert.Equal(t, string(agent.KindWorkloadMissing), evs[len(evs)-1].Kind)

	// With self-heal it comes back.
	c, _ := h.Agent(agent.Options{SelfHeal: true})
	res, err := c.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	assert.Equal(t, store.StatusRunning, agenttest.Rows(t, st)[h.ID("web")].Status)
}

func TestRemoteFailuresStopNothing(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "web"))
	h.Start("web", agent.Options{})
	id := h.Containers()[h.ID("web")][0].ID

	for _, tc := range []struct {
		name, url, branch, want string
	}{
		{"unreachable remote", "http://127.0.0.1:1/config.git", "main", "127.0.0.1:1"},
		{"wrong branch", h.Repo.URL, "nope", `branch not found: "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := gitops.NewRepo(tc.url, tc.branch, filepath.Join(h.StateDir, "repo"), gitops.Credentials{})
			require.NoError(t, err)
			_, err = h.AgentOn(repo, agent.Options{}).Tick(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			h.RequireOnlyRunning(t, "web", id)
		})
	}
}

func TestFailedDeployKeepsRunningVersion(t *testing.T) {
	h := newHarness(t)
	h.Workload("web", agenttest.Web(h.Image, "web"))
	a, st := h.Start("web", agent.Options{})
	id := h.Containers()[h.ID("web")][0].ID

	// An image that is not on the host and cannot be pulled: the pull
	// fails before anything is stopped.
	h.Workload("web", agenttest.Web("127.0.0.1:1/berth/none:v9", "web"))
	h.Repo.Push("bad image")
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("web")}, res.Failed)
	h.RequireOnlyRunning(t, "web", id)
	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Equal(t, store.DeployFailed, row.LastDeploy)
	assert.Equal(t, id, row.ContainerID)
	evs := agenttest.Events(t, st, h.ID("web"))
	last := evs[len(evs)-1]
	assert.Equal(t, string(agent.KindDeployFailed), last.Kind)
	assert.True(t, strings.HasPrefix(last.Message, "deploy of "+h.ID("web")), last.Message)
	assert.Contains(t, last.Message, "preparing the image")
}

func TestPullPolicies(t *testing.T) {
	h := newHarness(t)
	reg := dockertest.Registry(t)
	// Two images that differ, so a re-pull of :latest is visible.
	one, two := dockertest.Image(t, "pull-one", "ENV FLAVOUR=one"), dockertest.Image(t, "pull-two", "ENV FLAVOUR=two")
	pinned := reg + "/berth-test/pinned:1"
	latest := reg + "/berth-test/moving:latest"
	dockertest.Push(t, one, pinned)
	dockertest.Push(t, one, latest)

	h.Workload("pinned", agenttest.Web(pinned, "pinned"))
	h.Workload("moving", agenttest.Web(latest, "moving v1"))
	h.Repo.Push("from the registry")
	a, _ := h.Agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err, "both images are pulled: neither is on the host")
	img1, _, err := h.Docker.InspectImage(context.Background(), one)
	require.NoError(t, err)
	assert.Equal(t, img1.ID, h.Containers()[h.ID("moving")][0].ImageID)

	// A new image under :latest: "always" (the default for :latest) pulls it
	// on the next deploy.
	dockertest.Push(t, two, latest)
	h.Workload("moving", agenttest.Web(latest, "moving v2"))
	h.Repo.Push("redeploy moving")
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	img2, _, err := h.Docker.InspectImage(context.Background(), two)
	require.NoError(t, err)
	assert.Equal(t, img2.ID, h.Containers()[h.ID("moving")][0].ImageID, "the moved tag was pulled")

	// A missing tag is a clear failure naming the image.
	h.Workload("pinned", agenttest.Web(reg+"/berth-test/pinned:404", "pinned"))
	h.Repo.Push("a tag that does not exist")
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.ID("pinned")}, res.Failed)
	assert.Len(t, h.Containers()[h.ID("pinned")], 1, "the pinned version keeps running")
}
