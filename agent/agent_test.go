package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
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
	"github.com/berthops/berth/internal/dockertest"
	"github.com/berthops/berth/internal/gitserver"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
)

// berthBin is a statically linked berth, the server of static-site images.
var berthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-agent-test-")
	if err != nil {
		panic(err)
	}
	berthBin = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", berthBin, "../cmd/berth")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building berth: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	dockertest.RemoveImages()
	os.RemoveAll(dir)
	os.Exit(code)
}

// harness is one agent's world: a config repo on a real git smart-HTTP
// server, a state dir, the real Docker daemon and a unique agent name.
type harness struct {
	t        *testing.T
	repo     *gitserver.Repo
	docker   *sources.Docker
	stateDir string
	name     string
	image    string
	app      string
	log      *slog.Logger // overrides the default (discard) logger
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	d := dockertest.Docker(t)
	h := &harness{
		t:        t,
		docker:   d,
		stateDir: t.TempDir(),
		name:     dockertest.AgentName(t),
		image:    dockertest.Image(t, "v1"),
	}
	h.app = "a" + h.name[2:] // unique app name: container names stay unique across tests
	h.repo = gitserver.Start(t).NewRepo(t, "config")
	return h
}

// agent returns a new agent on the harness's state dir, as a restarted
// process would build it.
func (h *harness) agent(opts agent.Options) (*agent.Agent, *store.Store) {
	h.t.Helper()
	return h.agentWith(opts, h.docker)
}

func (h *harness) agentWith(opts agent.Options, d *sources.Docker) (*agent.Agent, *store.Store) {
	h.t.Helper()
	repo, err := gitops.NewRepo(h.repo.URL, "main", filepath.Join(h.stateDir, "repo"), gitops.Credentials{})
	require.NoError(h.t, err)
	return h.build(opts, repo, d)
}

// agentOn builds an agent of the harness on another config repo.
func agentOn(t *testing.T, h *harness, repo *gitops.Repo, opts agent.Options) *agent.Agent {
	t.Helper()
	a, _ := h.build(opts, repo, h.docker)
	return a
}

func (h *harness) build(opts agent.Options, repo *gitops.Repo, d *sources.Docker) (*agent.Agent, *store.Store) {
	h.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(h.stateDir, "berth.db"))
	require.NoError(h.t, err)
	h.t.Cleanup(func() { st.Close() })
	opts.Name = h.name
	opts.StaticServer = berthBin
	opts.Compose = &compose.Stack{Dir: filepath.Join(h.stateDir, "compose"), Env: os.Environ()}
	opts.AppRepo = func(url, branch, name string) (agent.AppRepo, error) {
		return gitops.NewRepo(url, branch, filepath.Join(h.stateDir, "apps", name), gitops.Credentials{})
	}
	if opts.LivenessWindow == 0 {
		opts.LivenessWindow = 300 * time.Millisecond // keep the suite quick
	}
	if opts.Drain == 0 {
		opts.Drain = 100 * time.Millisecond
	}
	log := slog.New(slog.DiscardHandler)
	if h.log != nil {
		log = h.log
	} else if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return agent.New(opts, repo, st, d, log), st
}

func (h *harness) id(name string) string { return h.app + "/" + name }

func (h *harness) workload(name, yaml string) {
	h.repo.Write(fmt.Sprintf("apps/%s/%s.yaml", h.app, name), yaml)
}

func web(image, msg string) string {
	return fmt.Sprintf(`source:
  type: image
  image: %s
  deploy_strategy: recreate
env:
  MESSAGE: %q
port: 8080
`, image, msg)
}

// containers lists the agent's containers by workload id.
func (h *harness) containers() map[string][]sources.Container {
	h.t.Helper()
	cs, err := h.docker.List(context.Background(), h.name)
	require.NoError(h.t, err)
	out := map[string][]sources.Container{}
	for _, c := range cs {
		out[c.Workload()] = append(out[c.Workload()], c)
	}
	return out
}

// requireOnlyRunning checks that the workload's one container is still
// the one with id, and running.
func (h *harness) requireOnlyRunning(t *testing.T, name, id string) {
	t.Helper()
	cs := h.containers()[h.id(name)]
	require.Len(t, cs, 1)
	assert.Equal(t, id, cs[0].ID)
	assert.True(t, cs[0].Running())
}

func rowsByID(t *testing.T, st *store.Store) map[string]store.Runtime {
	t.Helper()
	rows, err := st.ListRuntime(context.Background())
	require.NoError(t, err)
	out := map[string]store.Runtime{}
	for _, r := range rows {
		out[r.WorkloadID] = r
	}
	return out
}

// get fetches / from a workload's upstream, retrying while the server in
// the fresh container starts (bounded: 5 s).
func get(t *testing.T, upstream string) string {
	t.Helper()
	var lastErr error
	for range 50 {
		resp, err := http.Get("http://" + upstream + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", upstream, lastErr)
	return ""
}

func events(t *testing.T, st *store.Store, workload string) []store.Event {
	t.Helper()
	evs, err := st.Events(context.Background(), store.EventFilter{WorkloadID: workload, Limit: 1000, Ascending: true})
	require.NoError(t, err)
	return evs
}

func kinds(evs []store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func TestFirstDeployThenIdleTick(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "hello v1"))
	commit := h.repo.Push("add web")
	a, st := h.agent(agent.Options{})

	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, commit, res.Commit)
	assert.Equal(t, []string{h.id("web")}, res.Deployed)

	cs := h.containers()[h.id("web")]
	require.Len(t, cs, 1)
	c := cs[0]
	assert.True(t, c.Running())
	assert.Equal(t, "berth-"+h.app+"-web", c.Name)
	assert.Equal(t, commit, c.Labels[sources.LabelCommit])
	assert.NotEmpty(t, c.Labels[sources.LabelHash])
	assert.NotZero(t, c.HostPort, "port published on 127.0.0.1")

	row := rowsByID(t, st)[h.id("web")]
	assert.Equal(t, c.ID, row.ContainerID)
	assert.Equal(t, store.StatusRunning, row.Status)
	assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", c.HostPort), row.Upstream)
	assert.Equal(t, c.Labels[sources.LabelHash], row.AppliedHash)
	assert.Contains(t, get(t, row.Upstream), "hello v1")
	assert.Equal(t, []string{agent.KindDeployStarted, agent.KindDeploySucceeded}, kinds(events(t, st, h.id("web"))))
	ev := events(t, st, h.id("web"))[1]
	assert.Equal(t, h.id("web"), ev.Metadata["workload_id"])
	assert.Equal(t, "recreate", ev.Metadata["strategy"])
	assert.Equal(t, "recreate (explicit)", rowsByID(t, st)[h.id("web")].Strategy)
	assert.Equal(t, commit, ev.Metadata["commit"])

	// Nothing moved: the tick is a no-op and the container is the same.
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.True(t, res.NoOp)
	assert.Empty(t, res.Deployed)
	cs = h.containers()[h.id("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, c.ID, cs[0].ID)
	assert.Len(t, events(t, st, h.id("web")), 2, "an idle tick writes no events")
}

func TestRedeployOnlyWhatChanged(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "web v1"))
	h.workload("api", web(h.image, "api v1"))
	h.repo.Push("two workloads")
	a, st := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	before := h.containers()

	h.workload("web", web(h.image, "web v2"))
	h.repo.Write("README.md", "a change elsewhere in the repo\n")
	h.repo.Push("change web's env")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("web")}, res.Deployed)

	after := h.containers()
	require.Len(t, after[h.id("web")], 1, "the old container is gone")
	assert.NotEqual(t, before[h.id("web")][0].ID, after[h.id("web")][0].ID)
	assert.Equal(t, before[h.id("api")][0].ID, after[h.id("api")][0].ID, "api did not change, so it was not redeployed")
	rows := rowsByID(t, st)
	assert.Contains(t, get(t, rows[h.id("web")].Upstream), "web v2")
	assert.Contains(t, get(t, rows[h.id("api")].Upstream), "api v1")

	// A commit that touches no workload redeploys nothing.
	h.repo.Write("README.md", "another unrelated change\n")
	h.repo.Push("docs only")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.False(t, res.NoOp)
	assert.Empty(t, res.Deployed)
	assert.Equal(t, after[h.id("web")][0].ID, h.containers()[h.id("web")][0].ID)
}

func TestBrokenSiblingFailsAlone(t *testing.T) {
	h := newHarness(t)
	h.workload("good", web(h.image, "good"))
	h.workload("bad", "source:\n  type: image\n  image: "+h.image+"\n  deploy_strategy: bluegreen\nport: 8080\n")
	h.repo.Push("one good, one bad")
	a, st := h.agent(agent.Options{})

	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.id("good")}, res.Deployed)
	assert.Equal(t, []string{h.id("bad")}, res.Invalid)
	assert.Len(t, h.containers()[h.id("good")], 1)
	assert.Empty(t, h.containers()[h.id("bad")])

	evs := events(t, st, h.id("bad"))
	require.Len(t, evs, 1)
	assert.Equal(t, agent.KindWorkloadInvalid, evs[0].Kind)
	assert.Equal(t, store.SeverityError, evs[0].Severity)
	assert.Equal(t, fmt.Sprintf(`apps/%s/bad.yaml:4:20: source.deploy_strategy: "bluegreen" is not one of "", "recreate", "blue-green"`, h.app), evs[0].Message)
	assert.Equal(t, store.DeployInvalid, rowsByID(t, st)[h.id("bad")].LastDeploy)

	// A broken edit of a running workload keeps the running version.
	running := h.containers()[h.id("good")][0].ID
	h.workload("good", "source:\n  type: image\n  image: "+h.image+"\n  colour: blue\n")
	h.repo.Push("break good")
	_, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	h.requireOnlyRunning(t, "good", running)
}

func TestPruneAndAllowEmptyGuard(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "web"))
	h.workload("api", web(h.image, "api"))
	h.repo.Push("two")
	a, st := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)

	h.repo.Remove(fmt.Sprintf("apps/%s/api.yaml", h.app))
	h.repo.Push("remove api")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("api")}, res.Pruned)
	assert.Empty(t, h.containers()[h.id("api")])
	assert.NotContains(t, rowsByID(t, st), h.id("api"))
	evs := events(t, st, h.id("api"))
	assert.Equal(t, agent.KindWorkloadPruned, evs[len(evs)-1].Kind)

	// Emptying the repo does not prune the last workload without --allow-empty.
	h.repo.Remove("apps")
	h.repo.Write("README.md", "empty\n")
	h.repo.Push("remove everything")
	res, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Pruned)
	assert.Len(t, h.containers()[h.id("web")], 1, "still running")
	refused, err := st.Events(context.Background(), store.EventFilter{Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, agent.KindPruneRefused, refused[0].Kind)
	assert.Contains(t, refused[0].Message, "--allow-empty")

	b, _ := h.agent(agent.Options{AllowEmpty: true})
	res, err = b.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("web")}, res.Pruned)
	assert.Empty(t, h.containers())
}

func TestRestartKeepsState(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "web"))
	h.repo.Push("web")
	a, _ := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	id := h.containers()[h.id("web")][0].ID

	b, st := h.agent(agent.Options{}) // a new process on the same state dir
	res, err := b.Tick(context.Background())
	require.NoError(t, err)
	assert.Empty(t, res.Deployed)
	cs := h.containers()[h.id("web")]
	require.Len(t, cs, 1)
	assert.Equal(t, id, cs[0].ID)
	assert.Equal(t, id, rowsByID(t, st)[h.id("web")].ContainerID)
}

func TestVanishedContainer(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "web"))
	h.repo.Push("web")
	a, st := h.agent(agent.Options{SelfHeal: false})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	id := h.containers()[h.id("web")][0].ID

	// When the snapshot cannot be taken, nothing is marked missing.
	broken, err := sources.NewDocker("unix://" + filepath.Join(t.TempDir(), "no-docker.sock"))
	require.NoError(t, err)
	b, _ := h.agentWith(agent.Options{}, broken)
	require.NoError(t, h.docker.Remove(context.Background(), id, 0))
	_, err = b.Tick(context.Background())
	require.Error(t, err)
	assert.Equal(t, store.StatusRunning, rowsByID(t, st)[h.id("web")].Status)

	// Without self-heal the workload is marked missing, with an event.
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, store.StatusMissing, rowsByID(t, st)[h.id("web")].Status)
	evs := events(t, st, h.id("web"))
	assert.Equal(t, agent.KindWorkloadMissing, evs[len(evs)-1].Kind)

	// With self-heal it comes back.
	c, _ := h.agent(agent.Options{SelfHeal: true})
	res, err := c.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{h.id("web")}, res.Deployed)
	assert.Equal(t, store.StatusRunning, rowsByID(t, st)[h.id("web")].Status)
}

func TestRemoteFailuresStopNothing(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "web"))
	h.repo.Push("web")
	a, _ := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	id := h.containers()[h.id("web")][0].ID

	for _, tc := range []struct {
		name, url, branch, want string
	}{
		{"unreachable remote", "http://127.0.0.1:1/config.git", "main", "127.0.0.1:1"},
		{"wrong branch", h.repo.URL, "nope", `branch not found: "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := gitops.NewRepo(tc.url, tc.branch, filepath.Join(h.stateDir, "repo"), gitops.Credentials{})
			require.NoError(t, err)
			_, err = agentOn(t, h, repo, agent.Options{}).Tick(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			h.requireOnlyRunning(t, "web", id)
		})
	}
}

func TestFailedDeployKeepsRunningVersion(t *testing.T) {
	h := newHarness(t)
	h.workload("web", web(h.image, "web"))
	h.repo.Push("web")
	a, st := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err)
	id := h.containers()[h.id("web")][0].ID

	// An image that is not on the host and cannot be pulled: the pull
	// fails before anything is stopped.
	h.workload("web", web("127.0.0.1:1/berth/none:v9", "web"))
	h.repo.Push("bad image")
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.id("web")}, res.Failed)
	h.requireOnlyRunning(t, "web", id)
	row := rowsByID(t, st)[h.id("web")]
	assert.Equal(t, store.DeployFailed, row.LastDeploy)
	assert.Equal(t, id, row.ContainerID)
	evs := events(t, st, h.id("web"))
	last := evs[len(evs)-1]
	assert.Equal(t, agent.KindDeployFailed, last.Kind)
	assert.True(t, strings.HasPrefix(last.Message, "deploy of "+h.id("web")), last.Message)
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

	h.workload("pinned", web(pinned, "pinned"))
	h.workload("moving", web(latest, "moving v1"))
	h.repo.Push("from the registry")
	a, _ := h.agent(agent.Options{})
	_, err := a.Tick(context.Background())
	require.NoError(t, err, "both images are pulled: neither is on the host")
	id1, err := h.docker.ImageID(context.Background(), one)
	require.NoError(t, err)
	assert.Equal(t, id1, h.containers()[h.id("moving")][0].ImageID)

	// A new image under :latest: "always" (the default for :latest) pulls it
	// on the next deploy.
	dockertest.Push(t, two, latest)
	h.workload("moving", web(latest, "moving v2"))
	h.repo.Push("redeploy moving")
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	id2, err := h.docker.ImageID(context.Background(), two)
	require.NoError(t, err)
	assert.Equal(t, id2, h.containers()[h.id("moving")][0].ImageID, "the moved tag was pulled")

	// A missing tag is a clear failure naming the image.
	h.workload("pinned", web(reg+"/berth-test/pinned:404", "pinned"))
	h.repo.Push("a tag that does not exist")
	res, err := a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	assert.Equal(t, []string{h.id("pinned")}, res.Failed)
	assert.Len(t, h.containers()[h.id("pinned")], 1, "the pinned version keeps running")
}
