package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/giteatest"
	"github.com/berthops/berth/testkit/gitserver"
	"github.com/berthops/berth/testkit/loopback"
)

// A real Gitea delivers its pull-request webhooks to the agent's API: an
// agent that ticks once an hour deploys a preview when the pull request
// opens and tears it down when it closes, with no scheduled tick between.
func TestPullRequestWebhookDeploysAndTearsDownAPreview(t *testing.T) {
	h := newHarness(t)
	g := giteatest.Start(t)
	rt, proxy := h.EmbeddedRouter()
	cloneURL, pushURL := g.CreateRepo(t, "config")
	r := newPreviewRepo(t, g, pushURL)
	webFile := "apps/" + h.App + "/web.yaml"
	web := func(msg string) string { return agenttest.Routed(h.Image, "web.test", msg, "") }
	gitserver.Write(t, filepath.Join(r.work, "berth.yaml"), "previews:\n  pull_requests: true\n  host: \"{slug}.hook.test\"\n")
	gitserver.Write(t, filepath.Join(r.work, webFile), web("base"))
	r.pushBase()

	_, fc, cfg := giteaConfig(t, h, g, cloneURL)
	a, st := h.AgentAndStoreOn(cfg, agent.Options{Router: rt, Forge: fc, Pulls: fc, Schedule: "@every 1h"})
	const secret = "hook-secret-for-gitea"
	srv := httptest.NewServer(api.New(a, st, slog.New(slog.DiscardHandler), api.Options{Branch: "main", WebhookSecret: secret}).Handler())
	t.Cleanup(srv.Close)
	g.API(t, http.MethodPost, "/repos/"+g.User+"/config/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"pull_request"},
		"config": map[string]string{"url": srv.URL + "/hooks/git", "content_type": "json", "secret": secret},
	}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := &http.Client{Timeout: 2 * time.Second}
	serves := func(host, want string) func() bool {
		return func() bool {
			body, err := loopback.Get(c, proxy, host)
			return err == nil && body != "" && strings.Contains(body, want)
		}
	}
	require.Eventually(t, serves("web.test", "base"), time.Minute, 200*time.Millisecond, "the first tick deploys production")

	r.commit("feature", "pr version", map[string]string{webFile: web("from the hook")})
	n := r.openPull("feature", "")
	host := fmt.Sprintf("pr-%d.hook.test", n)
	require.Eventually(t, serves(host, "from the hook"), time.Minute, 200*time.Millisecond,
		"the pull request's webhook started the tick that deployed its preview")
	assert.True(t, serves("web.test", "base")(), "production serves the base")

	g.API(t, http.MethodPatch, fmt.Sprintf("/repos/%s/config/pulls/%d", g.User, n), map[string]string{"state": "closed"}, nil)
	pid := fmt.Sprintf("%s@pr-%d", h.ID("web"), n)
	require.Eventually(t, func() bool { _, routed := rt.Get(pid); return !routed && len(h.Containers()[pid]) == 0 },
		time.Minute, 200*time.Millisecond, "closing the pull request tore the preview down")
}
