package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
	"github.com/berthops/berth/testkit/giteatest"
	"github.com/berthops/berth/testkit/gitserver"
)

// push: pull-request on a real Gitea, for a workload that follows a
// moving tag by digest in a registry that asks for a login: re-pushing
// :stable opens one pull request that pins the new digest, with the
// change described in its body; re-pushing it again updates that pull
// request instead of opening a second. The watched branch is untouched.
func TestDigestUpdateOpensThenUpdatesOnePullRequest(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	g := giteatest.Start(t)
	const password = "CANARY-update-registry-3c9a"
	reg := dockertest.RegistryWithLogin(t, "deploy", password)
	repo := reg + "/berth-test/" + h.App
	dockertest.PushWithLogin(t, dockertest.Image(t, "upd-s1", "ENV MESSAGE=stable-1"), repo+":stable", "deploy", password)

	cloneURL, pushURL := g.CreateRepo(t, "config")
	work := t.TempDir()
	gitserver.Git(t, work, "init", "-q", "-b", "main")
	gitserver.Git(t, work, "remote", "add", "origin", pushURL)
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	gitserver.Write(t, filepath.Join(work, "berth.yaml"), fmt.Sprintf("secrets:\n  recipients: [%s]\nregistries:\n  - host: %s\n    username: deploy\n    password_secret: REGISTRY_TOKEN\n", rcpt, reg))
	berthCLI(t, password, "secrets", "set", "REGISTRY_TOKEN", "--dir", work)
	file := fmt.Sprintf("source:\n  type: image\n  image: %s:stable\n  update:\n    policy: digest\n    interval: 1m\n    push: pull-request\nport: 8080\n", repo)
	gitserver.Write(t, filepath.Join(work, "apps", h.App, "web.yaml"), file)
	gitserver.Git(t, work, "add", "-A")
	gitserver.Git(t, work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "web follows :stable")
	gitserver.Git(t, work, "push", "-q", "origin", "HEAD:main")
	// Gitea marks a pushed repo non-empty in the background.
	for range 100 { // bounded: 10 s
		var repoInfo struct {
			Empty bool `json:"empty"`
		}
		g.API(t, http.MethodGet, "/repos/"+g.User+"/config", nil, &repoInfo)
		if !repoInfo.Empty {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mainTip := func() string {
		return strings.Fields(gitserver.Git(t, work, "ls-remote", "origin", "refs/heads/main"))[0]
	}
	tip := mainTip()

	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(g.Token), 0o600))
	fc, err := forge.New(forge.Gitea, g.URL, gitops.RepoFromURL(cloneURL), tokenFile)
	require.NoError(t, err)
	creds := gitops.Credentials{Username: g.User, PasswordFile: tokenFile}
	cfg, err := gitops.NewRepo(cloneURL, "main", filepath.Join(h.StateDir, "repo"), creds)
	require.NoError(t, err)
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	clk := newClock()
	a := h.AgentOn(cfg, agent.Options{Secrets: secrets.NewResolver(ids, nil, nil), SecretKey: key, Now: clk.Now, PullRequests: fc,
		Committer: gitops.NewFileCommitter(cloneURL, filepath.Join(h.StateDir, "update.git"), h.Name, creds)})
	ctx := context.Background()
	_, err = a.Tick(ctx)
	require.NoError(t, err)
	a.CheckUpdates(ctx)
	ups := a.Updates()
	require.Len(t, ups, 1, "the first check pins the digest :stable has now")
	require.Equal(t, "pr_opened", ups[0].State, ups[0].Error)
	first := ups[0].Candidate
	assert.Contains(t, first, ":stable@sha256:")

	type pull struct {
		Number int    `json:"number"`
		Title  string `json:"title"`
		Body   string `json:"body"`
		Head   struct {
			Ref string `json:"ref"`
		} `json:"head"`
	}
	pulls := func() []pull {
		var out []pull
		g.API(t, http.MethodGet, "/repos/"+g.User+"/config/pulls?state=open", nil, &out)
		return out
	}
	ps := pulls()
	require.Len(t, ps, 1)
	assert.Equal(t, "berth/update/"+h.App+"-web", ps[0].Head.Ref)
	assert.Contains(t, ps[0].Body, first)
	assert.Contains(t, ps[0].Body, "### Berth plan", "the body is berth plan's markdown")
	assert.Contains(t, ps[0].Body, "source.image")
	assert.Equal(t, tip, mainTip(), "the watched branch is untouched")

	dockertest.PushWithLogin(t, dockertest.Image(t, "upd-s2", "ENV MESSAGE=stable-2"), repo+":stable", "deploy", password)
	clk.Add(61 * time.Second)
	a.CheckUpdates(ctx)
	ups = a.Updates()
	require.Len(t, ups, 1)
	require.Equal(t, "pr_opened", ups[0].State, ups[0].Error)
	assert.NotEqual(t, first, ups[0].Candidate, "the moved tag's new digest: %+v", ups[0])
	ps = pulls()
	require.Len(t, ps, 1, "the open pull request is updated, not doubled")
	assert.Contains(t, ps[0].Body, ups[0].Candidate)
	gitserver.Git(t, work, "fetch", "-q", "origin", "berth/update/"+h.App+"-web")
	got := gitserver.Git(t, work, "show", "FETCH_HEAD:apps/"+h.App+"/web.yaml")
	assert.Equal(t, strings.Replace(file, repo+":stable", ups[0].Candidate, 1), got)
	assert.Equal(t, tip, mainTip())

	st, err := store.Open(ctx, filepath.Join(h.StateDir, "berth.db"))
	require.NoError(t, err)
	defer st.Close()
	kinds := agenttest.Kinds(agenttest.Events(t, st, h.ID("web")))
	assert.Contains(t, kinds, agent.KindUpdatePROpened)
	for _, e := range agenttest.Events(t, st, h.ID("web")) {
		assert.NotContains(t, e.Message, password)
	}
}
