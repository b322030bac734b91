package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/gitserver"
	"github.com/berthops/berth/testkit/loopback"
)

// updateFile is a routed image workload that follows tags by policy.
func updateFile(image, policy, host string) string {
	return fmt.Sprintf(`# the shop's web: Berth keeps the tag current
source:
  type: image
  image: %s   # bumped by berth
  update: {%s, interval: 1m}
port: 8080
route:
  hosts: [%s]
healthcheck:
  path: /healthz
  timeout: 3s
`, image, policy, host)
}

// commitsOf counts the config repo's commits on main, after pulling them
// into the test's working clone.
func commitsOf(t *testing.T, r *gitserver.Repo) int {
	gitserver.Git(t, r.Dir, "pull", "-q", "--ff-only", "origin", "main")
	return len(strings.Fields(gitserver.Git(t, r.Dir, "rev-list", "HEAD")))
}

// A new tag in range becomes exactly one commit that changes one line of
// the workload file (the rest byte-identical); the agent then deploys it
// with no failed request. A tag outside the range makes nothing, and a
// second agent placing the same workload makes no second commit.
func TestImageUpdateBecomesOneCommitThenADeploy(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	reg := dockertest.Registry(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	repo := reg + "/berth-test/" + h.App
	dockertest.Push(t, dockertest.Image(t, "upd-142", "ENV MESSAGE=release-1.4.2"), repo+":1.4.2")
	file := updateFile(repo+":1.4.2", `policy: semver, range: "~1.4"`, host)
	h.Workload("web", file)
	clk := newClock()
	newCommitter := func(dir string) *gitops.FileCommitter {
		return gitops.NewFileCommitter(h.Repo.URL, filepath.Join(dir, "update.git"), h.Name, gitops.Credentials{})
	}
	a, st := h.Start("web", agent.Options{Router: rt, Committer: newCommitter(t.TempDir()), Now: clk.Now})
	ctx := context.Background()
	wid := h.ID("web")
	before := commitsOf(t, h.Repo)

	a.CheckUpdates(ctx)
	ups := a.Updates()
	require.Len(t, ups, 1)
	assert.Equal(t, "current", ups[0].State, "nothing newer yet")

	dockertest.Push(t, dockertest.Image(t, "upd-143", "ENV MESSAGE=release-1.4.3"), repo+":1.4.3")
	dockertest.Push(t, dockertest.Image(t, "upd-150", "ENV MESSAGE=release-1.5.0"), repo+":1.5.0")
	clk.Add(61 * time.Second)
	a.CheckUpdates(ctx)
	ups = a.Updates()
	require.Len(t, ups, 1)
	assert.Equal(t, "committed", ups[0].State, ups[0].Error)
	assert.Equal(t, repo+":1.4.3", ups[0].Candidate, "the highest tag in ~1.4, not 1.5.0")

	require.Equal(t, before+1, commitsOf(t, h.Repo), "exactly one commit")
	rel := "apps/" + h.App + "/web.yaml"
	assert.Equal(t, "1\t1\t"+rel+"\n", gitserver.Git(t, h.Repo.Dir, "diff", "--numstat", "HEAD~1", "HEAD"), "one line changed")
	got := gitserver.Git(t, h.Repo.Dir, "show", "HEAD:"+rel)
	assert.Equal(t, strings.Replace(file, ":1.4.2", ":1.4.3", 1), got, "the rest of the file is byte-identical")
	assert.Contains(t, gitserver.Git(t, h.Repo.Dir, "log", "-1", "--format=%an%n%B"), "berth ("+h.Name+")")

	l := agenttest.StartLoad(proxy, host)
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	assert.Equal(t, []string{wid}, res.Deployed)
	assert.Zero(t, l.Failed.Load(), "failed requests while the update deployed (first: %v)", l.FirstError())
	rels, err := a.Releases(ctx, wid)
	require.NoError(t, err)
	assert.Equal(t, []string{"source.image"}, rels[0].Changed, "the release says what the deploy changed")
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "release-1.4.3", "the new tag serves")

	clk.Add(61 * time.Second)
	a.CheckUpdates(ctx)
	assert.Equal(t, before+1, commitsOf(t, h.Repo), "1.5.0 is outside ~1.4: no commit")
	assert.Equal(t, "current", a.Updates()[0].State)

	// A second agent places the same workload; both find 1.4.4 at once:
	// one commit, whoever wins the push.
	hb := newHarness(t)
	repoB, err := gitops.NewRepo(h.Repo.URL, "main", filepath.Join(hb.StateDir, "repo"), gitops.Credentials{})
	require.NoError(t, err)
	b := hb.AgentOn(repoB, agent.Options{Committer: newCommitter(hb.StateDir), Now: clk.Now})
	_, err = b.Tick(ctx)
	require.NoError(t, err)
	dockertest.Push(t, dockertest.Image(t, "upd-144", "ENV MESSAGE=release-1.4.4"), repo+":1.4.4")
	clk.Add(61 * time.Second)
	var wg sync.WaitGroup
	for _, ag := range []*agent.Agent{a, b} {
		wg.Go(func() { ag.CheckUpdates(ctx) })
	}
	wg.Wait()
	assert.Equal(t, before+2, commitsOf(t, h.Repo), "two agents, one commit")
	for _, ag := range []*agent.Agent{a, b} {
		ups := ag.Updates()
		require.Len(t, ups, 1)
		assert.Equal(t, "committed", ups[0].State, ups[0].Error)
	}
	assert.Contains(t, gitserver.Git(t, h.Repo.Dir, "show", "HEAD:"+rel), ":1.4.4   # bumped by berth")

	kinds := agenttest.Kinds(agenttest.Events(t, st, wid))
	assert.Contains(t, kinds, agent.KindUpdateFound)
	assert.Contains(t, kinds, agent.KindUpdateCommitted)
}

// A config repo the agent may not push to: a clear error, one event
// (a repeat is counted on it), and the workload backs off instead of
// asking again every interval.
func TestImageUpdateThatCannotBePushedBacksOff(t *testing.T) {
	h := newHarness(t)
	reg := dockertest.Registry(t)
	repo := reg + "/berth-test/" + h.App
	dockertest.Push(t, h.Image, repo+":1.0.0")
	file := fmt.Sprintf("source:\n  type: image\n  image: %s:1.0.0\n  update: {policy: semver, interval: 1m}\nport: 8080\n", repo)
	h.Workload("web", file)
	// The agent's token may read the repo it would commit to, not push.
	srv := gitserver.Start(t, gitserver.WithPassword("rw-secret"), gitserver.WithReadOnlyPassword("ro-secret"))
	target := srv.NewRepo(t, "config")
	target.Write("apps/"+h.App+"/web.yaml", file)
	target.Push("the same workload")
	roFile := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.WriteFile(roFile, []byte("ro-secret"), 0o600))
	clk := newClock()
	a, st := h.Start("web", agent.Options{Now: clk.Now,
		Committer: gitops.NewFileCommitter(target.URL, filepath.Join(t.TempDir(), "update.git"), h.Name, gitops.Credentials{Username: "git", PasswordFile: roFile})})
	dockertest.Push(t, h.Image, repo+":1.0.1")
	ctx := context.Background()
	failures := func() (n, count int) {
		for _, e := range agenttest.Events(t, st, h.ID("web")) {
			if e.Kind == string(agent.KindUpdateFailed) {
				n, count = n+1, count+max(e.Count, 1)
				assert.Contains(t, e.Message, "token needs write access")
				assert.NotContains(t, e.Message, "ro-secret")
			}
		}
		return n, count
	}
	a.CheckUpdates(ctx)
	ups := a.Updates()
	require.Len(t, ups, 1)
	assert.Equal(t, "failed", ups[0].State)
	n, _ := failures()
	assert.Equal(t, 1, n)

	clk.Add(61 * time.Second) // one interval: backed off, not asked again
	a.CheckUpdates(ctx)
	_, count := failures()
	assert.Equal(t, 1, count, "no retry at the next interval")

	clk.Add(2 * time.Minute) // past the backoff: tried once more, counted on the same event
	a.CheckUpdates(ctx)
	n, count = failures()
	assert.Equal(t, 1, n, "one event")
	assert.Equal(t, 2, count)
}

// A dockerfile source follows its base image: the FROM line of the final
// stage is the one rewritten, the rest of the Dockerfile untouched, and
// the next tick builds on the new base.
func TestDockerfileBaseImageUpdate(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	reg := dockertest.Registry(t)
	base := reg + "/berth-test/" + h.App + "-base"
	dockertest.Push(t, dockertest.Image(t, "base-10", "ENV MESSAGE=base-1.0"), base+":1.0.0")
	df := "# build on the team's base\nFROM " + base + ":1.0.0 AS final\nENV GREETING=hi\n"
	h.Repo.Write("apps/"+h.App+"/web/Dockerfile", df)
	h.Workload("web", "source:\n  type: dockerfile\n  context: web\n  deploy_strategy: recreate\n  update: {policy: semver, interval: 1m}\nport: 8080\n")
	clk := newClock()
	a, st := h.Start("web", agent.Options{Now: clk.Now,
		Committer: gitops.NewFileCommitter(h.Repo.URL, filepath.Join(t.TempDir(), "update.git"), h.Name, gitops.Credentials{})})
	ctx := context.Background()
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "base-1.0")

	dockertest.Push(t, dockertest.Image(t, "base-11", "ENV MESSAGE=base-1.1"), base+":1.1.0")
	a.CheckUpdates(ctx)
	ups := a.Updates()
	require.Len(t, ups, 1)
	require.Equal(t, "committed", ups[0].State, ups[0].Error)
	commitsOf(t, h.Repo)
	assert.Equal(t, strings.Replace(df, ":1.0.0", ":1.1.0", 1), gitserver.Git(t, h.Repo.Dir, "show", "HEAD:apps/"+h.App+"/web/Dockerfile"))
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web")}, res.Deployed)
	assert.Contains(t, agenttest.Get(t, agenttest.Rows(t, st)[h.ID("web")].Upstream), "base-1.1", "built on the new base")
}
