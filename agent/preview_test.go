package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
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
	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/giteatest"
	"github.com/berthops/berth/testkit/gitserver"
	"github.com/berthops/berth/testkit/loopback"
)

// containerIP is a container's address on its network.
func containerIP(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id).Output()
	require.NoError(t, err)
	ip := strings.TrimSpace(string(out))
	require.NotEmpty(t, ip)
	return ip
}

// previewKinds are the preview events among evs, oldest first.
func previewKinds(evs []store.Event) []agent.EventKind {
	var out []agent.EventKind
	for _, e := range evs {
		if strings.HasPrefix(e.Kind, "preview.") {
			out = append(out, agent.EventKind(e.Kind))
		}
	}
	return out
}

// previewRepo is a config repo on a real Gitea with a work tree to push
// branches from.
type previewRepo struct {
	t    *testing.T
	g    *giteatest.Gitea
	work string
}

func (r *previewRepo) commit(branch, msg string, files map[string]string) string {
	gitserver.Git(r.t, r.work, "checkout", "-q", "-B", branch, "origin/main")
	for p, c := range files {
		gitserver.Write(r.t, filepath.Join(r.work, p), c)
	}
	gitserver.Git(r.t, r.work, "add", "-A")
	gitserver.Git(r.t, r.work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", msg)
	gitserver.Git(r.t, r.work, "push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
	gitserver.Git(r.t, r.work, "fetch", "-q", "origin")
	return strings.TrimSpace(gitserver.Git(r.t, r.work, "rev-parse", "HEAD"))
}

// newPreviewRepo is a work tree whose origin is the Gitea repo at pushURL.
func newPreviewRepo(t *testing.T, g *giteatest.Gitea, pushURL string) *previewRepo {
	r := &previewRepo{t: t, g: g, work: t.TempDir()}
	gitserver.Git(t, r.work, "init", "-q", "-b", "main")
	gitserver.Git(t, r.work, "remote", "add", "origin", pushURL)
	return r
}

// giteaConfig is the Gitea token's file, a forge client with it, and the
// agent's clone of the config repo at cloneURL.
func giteaConfig(t *testing.T, h *agenttest.Harness, g *giteatest.Gitea, cloneURL string) (string, *forge.Client, *gitops.Repo) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(g.Token), 0o600))
	fc, err := forge.New(forge.Gitea, g.URL, gitops.RepoFromURL(cloneURL), tokenFile)
	require.NoError(t, err)
	cfg, err := gitops.NewRepo(cloneURL, "main", filepath.Join(h.StateDir, "repo"), gitops.Credentials{Username: g.User, PasswordFile: tokenFile})
	require.NoError(t, err)
	return tokenFile, fc, cfg
}

// pushBase commits the work tree as main's first commit and pushes it.
func (r *previewRepo) pushBase() {
	gitserver.Git(r.t, r.work, "add", "-A")
	gitserver.Git(r.t, r.work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
	gitserver.Git(r.t, r.work, "push", "-q", "origin", "HEAD:main")
	gitserver.Git(r.t, r.work, "fetch", "-q", "origin")
	for range 100 { // bounded: 10 s; Gitea marks a pushed repo non-empty in the background
		var info struct {
			Empty bool `json:"empty"`
		}
		r.g.APIAs(r.t, "", http.MethodGet, "/repos/"+r.g.User+"/config", nil, &info)
		if !info.Empty {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *previewRepo) openPull(head, sudo string) int {
	var pr struct {
		Number int `json:"number"`
	}
	r.g.APIAs(r.t, sudo, http.MethodPost, "/repos/"+r.g.User+"/config/pulls", map[string]string{"head": head, "base": "main", "title": "change " + head}, &pr)
	return pr.Number
}

func (r *previewRepo) statuses(sha string) map[string]string {
	var list []struct {
		Context     string `json:"context"`
		Status      string `json:"status"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
	}
	r.g.APIAs(r.t, "", http.MethodGet, "/repos/"+r.g.User+"/config/statuses/"+sha, nil, &list)
	out := map[string]string{}
	for i := len(list) - 1; i >= 0; i-- { // newest first: keep the newest
		s := list[i]
		if s.Context == agent.PreviewStatusContext {
			out["state"], out["url"], out["description"] = s.Status, s.TargetURL, s.Description
		}
	}
	return out
}

// Pull requests on a real Gitea become previews: the changed workload
// runs as APP/web@pr-N at its preview host with the pull request's
// version while production serves the base; a second push updates it;
// the pull request gets a status linking it; the preview has the preview
// secrets and not production's; a fork's pull request is not deployed;
// the limit holds, newest push first; closing tears it down.
func TestPullRequestPreviews(t *testing.T) {
	h := newHarness(t)
	g := giteatest.Start(t)
	rt, proxy := h.EmbeddedRouter()
	cloneURL, pushURL := g.CreateRepo(t, "config")
	r := newPreviewRepo(t, g, pushURL)
	const canary = "CANARY-prod-only-7d1f"
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	settings := func(max int) string {
		return fmt.Sprintf("secrets:\n  recipients: [%s]\npreviews:\n  pull_requests: true\n  branches: [\"preview/*\"]\n  host: \"{slug}.preview.test\"\n  max: %d\n", rcpt, max)
	}
	web := func(msg string) string {
		return agenttest.Routed(h.Image, "web.test", msg, "", "SHOW_ENV: \"1\"", "DIAL: \"1\"")
	}
	webFile := "apps/" + h.App + "/web.yaml"
	gitserver.Write(t, filepath.Join(r.work, "berth.yaml"), settings(2))
	gitserver.Write(t, filepath.Join(r.work, webFile), web("base"))
	gitserver.Write(t, filepath.Join(r.work, "apps", h.App, "other.yaml"), "source:\n  type: image\n  image: "+h.Image+"\n")
	berthCLI(t, canary, "secrets", "set", "API_KEY", "--dir", r.work)
	berthCLI(t, "preview-value", "secrets", "set", "PREVIEW_KEY", "--preview", "--dir", r.work)
	r.pushBase()

	tokenFile, fc, cfg := giteaConfig(t, h, g, cloneURL)
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	red := secrets.NewRedactor()
	a, st := h.AgentAndStoreOn(cfg, agent.Options{Router: rt, Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red, Forge: fc, Pulls: fc})
	srv := httptest.NewServer(agenttest.API(a, st))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	tick := func() *agent.TickResult {
		t.Helper()
		res, err := a.Tick(ctx)
		require.NoError(t, err)
		return res
	}
	get := func(host, path string) string {
		t.Helper()
		body, err := loopback.GetPath(http.DefaultClient, proxy, host, path)
		require.NoError(t, err)
		return body
	}
	res := tick()
	require.ElementsMatch(t, []string{h.ID("web"), h.ID("other")}, res.Deployed)
	assert.Contains(t, get("web.test", "/"), "base")

	// A pull request that changes web: its preview.
	sha := r.commit("feature", "pr version", map[string]string{webFile: web("pr-1")})
	n := r.openPull("feature", "")
	pid, host := fmt.Sprintf("%s@pr-%d", h.ID("web"), n), fmt.Sprintf("pr-%d.preview.test", n)
	res = tick()
	assert.Equal(t, []string{pid}, res.Deployed, "only the workload the change touches")
	assert.Contains(t, get(host, "/"), "pr-1")
	assert.Contains(t, get("web.test", "/"), "base", "production serves the base version")
	var env map[string]string
	require.NoError(t, json.Unmarshal([]byte(get(host, "/env")), &env))
	assert.Equal(t, "preview-value", env["PREVIEW_KEY"])
	assert.NotContains(t, get(host, "/env"), canary, "production's secrets never reach a preview")
	// The preview runs on a network of its own: production's containers
	// reach each other on Docker's default bridge, the preview reaches
	// none of them.
	other := h.Containers()[h.ID("other")]
	require.Len(t, other, 1)
	otherAddr := containerIP(t, other[0].ID) + ":8080"
	assert.Contains(t, get("web.test", "/dial?addr="+otherAddr), "open", "production reaches production")
	assert.Contains(t, get(host, "/dial?addr="+otherAddr), "closed", "a preview cannot reach production")
	ps := r.statuses(sha)
	assert.Equal(t, "success", ps["state"], ps["description"])
	assert.Equal(t, "http://"+host+"/", ps["url"])
	var list []agent.Preview
	require.NoError(t, json.Unmarshal([]byte(berthCLI(t, "", "previews", "--agent", srv.URL, "--json")), &list), "berth previews --json")
	require.Len(t, list, 1)
	assert.Equal(t, "running", list[0].State)
	assert.Equal(t, n, list[0].PullRequest)
	assert.Equal(t, []string{pid}, list[0].Workloads)
	table := berthCLI(t, "", "previews", "--agent", srv.URL)
	assert.Contains(t, table, fmt.Sprintf("pr-%d", n))
	assert.Contains(t, table, "http://"+host+"/")
	assert.Equal(t, []agent.EventKind{agent.KindPreviewCreated}, previewKinds(agenttest.Events(t, st, "")))

	// A second push updates it.
	sha2 := r.commit("feature", "pr version 2", map[string]string{webFile: web("pr-2")})
	res = tick()
	assert.Equal(t, []string{pid}, res.Deployed)
	assert.Contains(t, get(host, "/"), "pr-2")
	assert.Equal(t, "success", r.statuses(sha2)["state"])

	// A fork's pull request is not deployed without --allow fork-previews.
	r.g.APIAs(r.t, "", http.MethodPost, "/admin/users", map[string]any{"username": "outsider", "email": "o@o.invalid", "password": "outsider-Passw0rd!", "must_change_password": false}, nil)
	r.g.APIAs(r.t, "outsider", http.MethodPost, "/repos/"+g.User+"/config/forks", map[string]any{}, nil)
	forkPush := strings.Replace(pushURL, "/"+g.User+"/config.git", "/outsider/config.git", 1)
	gitserver.Git(t, r.work, "remote", "add", "fork", forkPush)
	gitserver.Git(t, r.work, "checkout", "-q", "-B", "evil", "origin/main")
	gitserver.Write(t, filepath.Join(r.work, webFile), web("from a fork"))
	gitserver.Git(t, r.work, "-c", "user.name=o", "-c", "user.email=o@o", "commit", "-q", "-am", "fork change")
	gitserver.Git(t, r.work, "push", "-q", "fork", "HEAD:refs/heads/evil")
	forkN := r.openPull("outsider:evil", "outsider")
	res = tick()
	assert.Empty(t, res.Deployed)
	assert.Empty(t, h.Containers()[fmt.Sprintf("%s@pr-%d", h.ID("web"), forkN)])
	var refused bool
	for _, p := range a.Previews() {
		if p.PullRequest == forkN {
			refused = p.State == "refused" && strings.Contains(p.Reason, "fork-previews")
		}
	}
	assert.True(t, refused, "%+v", a.Previews())

	// Without a pull request, a branch that matches branches: is a preview
	// too; deleting the branch tears it down.
	r.commit("preview/demo", "a preview branch", map[string]string{webFile: web("branch demo")})
	res = tick()
	assert.Equal(t, []string{h.ID("web") + "@preview-demo"}, res.Deployed)
	assert.Contains(t, get("preview-demo.preview.test", "/"), "branch demo")
	gitserver.Git(t, r.work, "push", "-q", "origin", ":refs/heads/preview/demo")
	res = tick()
	assert.Equal(t, []string{h.ID("web") + "@preview-demo"}, res.Pruned)

	// A pull request whose files do not validate: the status says why,
	// nothing is deployed, production is untouched.
	bad := r.commit("broken", "a typo", map[string]string{webFile: "source:\n  type: image\n  imagee: " + h.Image + "\n"})
	r.openPull("broken", "")
	res = tick()
	assert.Empty(t, res.Deployed)
	ps = r.statuses(bad)
	assert.Equal(t, "failure", ps["state"])
	assert.Contains(t, ps["description"], "imagee")
	assert.Contains(t, get("web.test", "/"), "base")

	// Closing the pull request tears the preview down.
	r.g.APIAs(r.t, "", http.MethodPatch, fmt.Sprintf("/repos/%s/config/pulls/%d", g.User, n), map[string]string{"state": "closed"}, nil)
	res = tick()
	assert.Contains(t, res.Pruned, pid)
	assert.Empty(t, h.Containers()[pid])
	_, routed := rt.Get(pid)
	assert.False(t, routed, "its route is gone")
	assert.Contains(t, r.statuses(sha2)["description"], "torn down")
	assert.Error(t, exec.Command("docker", "network", "inspect", fmt.Sprintf("berth-preview-%s-pr-%d", h.App, n)).Run(), "its network is gone")
	assert.Equal(t, []agent.EventKind{agent.KindPreviewCreated, agent.KindPreviewUpdated, agent.KindPreviewFailed, agent.KindPreviewCreated,
		agent.KindPreviewRemoved, agent.KindPreviewFailed, agent.KindPreviewRemoved}, previewKinds(agenttest.Events(t, st, "")))
	assert.Contains(t, get("web.test", "/"), "base", "production untouched")

	// A preview that fails its gate: reported on its pull request, nothing
	// else affected.
	time.Sleep(1100 * time.Millisecond) // commit times have one-second steps
	never := r.commit("never", "never ready", map[string]string{webFile: strings.Replace(web("never"), "env:\n", "env:\n  NEVER_READY: \"1\"\n", 1)})
	neverN := r.openPull("never", "")
	res, err = a.Tick(ctx)
	require.Error(t, err)
	assert.Equal(t, []string{fmt.Sprintf("%s@pr-%d", h.ID("web"), neverN)}, res.Failed)
	ps = r.statuses(never)
	assert.Equal(t, "failure", ps["state"])
	assert.Contains(t, ps["description"], "healthz")
	assert.Contains(t, get("web.test", "/"), "base")

	// The limit: with max 1, of the new pull requests the newest push runs;
	// the others wait, and the failed preview, now the oldest, is torn down.
	r.commit("main", "one preview at a time", map[string]string{"berth.yaml": settings(1)})
	time.Sleep(1100 * time.Millisecond)
	r.commit("older", "older change", map[string]string{webFile: web("older")})
	time.Sleep(1100 * time.Millisecond) // commit times have one-second steps
	r.commit("newer", "newer change", map[string]string{webFile: web("newer")})
	older, newer := r.openPull("older", ""), r.openPull("newer", "")
	newerID := fmt.Sprintf("%s@pr-%d", h.ID("web"), newer)
	res = tick()
	assert.Equal(t, []string{newerID}, res.Deployed)
	assert.Contains(t, res.Pruned, fmt.Sprintf("%s@pr-%d", h.ID("web"), neverN))
	var waiting bool
	for _, p := range a.Previews() {
		waiting = waiting || p.PullRequest == older && p.State == "waiting"
	}
	assert.True(t, waiting, "%+v", a.Previews())

	// The forge is unreachable and the agent restarts: nothing is torn
	// down on missing data.
	down, err := forge.New(forge.Gitea, "http://"+loopback.FreeAddr(t), gitops.RepoFromURL(cloneURL), tokenFile)
	require.NoError(t, err)
	a2 := h.AgentOn(cfg, agent.Options{Router: rt, Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red, Forge: down, Pulls: down})
	res, err = a2.Tick(ctx)
	require.NoError(t, err)
	assert.Empty(t, res.Pruned)
	assert.Len(t, h.Containers()[newerID], 1, "the preview keeps running")
	assert.Contains(t, get(fmt.Sprintf("pr-%d.preview.test", newer), "/"), "newer")

	// A TTL after the last push: two hours on, a 1h TTL tears it down.
	r.commit("main", "previews live an hour", map[string]string{"berth.yaml": settings(1) + "  ttl: 1h\n"})
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	a3 := h.AgentOn(cfg, agent.Options{Router: rt, Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red, Forge: fc, Pulls: fc, Now: later})
	res, err = a3.Tick(ctx)
	require.NoError(t, err)
	assert.Contains(t, res.Pruned, newerID)
	assert.Empty(t, h.Containers()[newerID])
}

// Without a forge, branches that match previews.branches are previews.
// With --trusted-signers an unsigned head is refused like an unsigned
// config commit; and a head's own berth.yaml changes nothing about what
// previews may do: the settings are the watched branch's.
func TestBranchPreviewsAreSignedAndBoundByTheWatchedBranch(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	ops := gitserver.NewSSHSigner(t, "ops@example.com")
	file := filepath.Join(t.TempDir(), "allowed_signers")
	require.NoError(t, os.WriteFile(file, []byte(ops.Trusted), 0o644))
	signers, err := gitops.LoadSigners(file)
	require.NoError(t, err)
	h.Signers = signers
	base := "previews:\n  branches: [\"preview/*\"]\n  host: \"{slug}.preview.test\"\n"
	h.Repo.Write("berth.yaml", base)
	h.Workload("web", agenttest.Routed(h.Image, "web.test", "base", ""))
	h.Workload("other", "source:\n  type: image\n  image: "+h.Image+"\n")
	h.Repo.PushSigned("base", ops)
	a, _ := h.Agent(agent.Options{Router: rt})
	ctx := context.Background()
	res, err := a.Tick(ctx)
	require.NoError(t, err)
	require.Len(t, res.Deployed, 2)

	// An unsigned head: refused, nothing deployed.
	gitserver.Git(t, h.Repo.Dir, "checkout", "-q", "-b", "preview/a")
	h.Workload("web", agenttest.Routed(h.Image, "web.test", "preview a", ""))
	h.Repo.Write("berth.yaml", base+"  workloads: [web, other]\n") // the head asks for more
	h.Repo.PushSignedTo("preview/a", "unsigned", nil)
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Empty(t, res.Deployed)
	list := a.Previews()
	require.Len(t, list, 1)
	assert.Equal(t, "preview-a", list[0].Slug)
	assert.Equal(t, "refused", list[0].State, list[0].Reason)
	assert.Contains(t, list[0].Reason, "not verified with --trusted-signers: the commit is not signed")

	// Signed: web runs at its preview host; other does not come along,
	// whatever the head's berth.yaml says.
	h.Repo.PushSignedTo("preview/a", "signed", ops)
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{h.ID("web") + "@preview-a"}, res.Deployed)
	body, err := loopback.Get(http.DefaultClient, proxy, "preview-a.preview.test")
	require.NoError(t, err)
	assert.Contains(t, body, "preview a")
	body, err = loopback.Get(http.DefaultClient, proxy, "web.test")
	require.NoError(t, err)
	assert.Contains(t, body, "base")
}
