package agent_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/giteatest"
	"github.com/berthops/berth/testkit/gitserver"
)

// TestCommitStatusesOnRealGitea: the config repo lives on a real Gitea;
// a deploy posts pending then success on the commit, a failed deploy posts
// failure, under the context berth/<agent>/<app>/<name>.
func TestCommitStatusesOnRealGitea(t *testing.T) {
	h := newHarness(t) // skips first when there is no Docker
	g := giteatest.Start(t)
	cloneURL, pushURL := g.CreateRepo(t, "config")
	work := t.TempDir()
	gitserver.Git(t, work, "init", "-q", "-b", "main")
	gitserver.Git(t, work, "remote", "add", "origin", pushURL)
	push := func(msg string) string {
		gitserver.Git(t, work, "add", "-A")
		gitserver.Git(t, work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", msg)
		gitserver.Git(t, work, "push", "-q", "origin", "HEAD:main")
		return gitserver.Git(t, work, "rev-parse", "HEAD")[:40]
	}
	gitserver.Write(t, filepath.Join(work, "apps", h.App, "web.yaml"), agenttest.Web(h.Image, "v1"))
	good := push("web")

	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(g.Token), 0o600))
	fc, err := forge.New(forge.Gitea, g.URL, gitops.RepoFromURL(cloneURL), tokenFile)
	require.NoError(t, err)
	creds := gitops.Credentials{Username: g.User, PasswordFile: tokenFile}
	repo, err := gitops.NewRepo(cloneURL, "main", filepath.Join(h.StateDir, "repo"), creds)
	require.NoError(t, err)
	a := h.AgentOn(repo, agent.Options{Forge: fc})
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	a.Flush(context.Background()) // statuses are posted in the background

	type status struct {
		State   string `json:"status"`
		Context string `json:"context"`
	}
	statuses := func(sha string) []status {
		var out []status
		g.API(t, http.MethodGet, "/repos/"+g.User+"/config/statuses/"+sha+"?sort=oldest", nil, &out)
		return out
	}
	want := "berth/" + h.Name + "/" + h.ID("web")
	got := statuses(good)
	require.Len(t, got, 2)
	assert.Equal(t, []status{{"pending", want}, {"success", want}}, got)

	gitserver.Write(t, filepath.Join(work, "apps", h.App, "web.yaml"), agenttest.Web("127.0.0.1:1/none:v9", "v2"))
	bad := push("an image that cannot be pulled")
	_, err = a.Tick(context.Background())
	require.ErrorIs(t, err, agent.ErrDeployFailed)
	a.Flush(context.Background())
	got = statuses(bad)
	require.Len(t, got, 2)
	assert.Equal(t, "failure", got[1].State)
	assert.Len(t, statuses(good), 2, "the earlier commit keeps its success")
}
