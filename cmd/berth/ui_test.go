package main_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/internal/browsertest"
)

// TestUIWithTokenInBrowser: with an API token the web UI works end to end
// in a real browser: the token is exchanged for an HttpOnly, SameSite=Strict
// session cookie, the workload table and the live event stream (SSE,
// which cannot send a header) work with it, and logging out ends it.
func TestUIWithTokenInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	w := newCLIWorld(t)
	img, name, app, src := w.img, w.name, w.app, w.src
	web := func(msg string) string {
		return "source:\n  type: image\n  image: " + img + "\nenv:\n  MESSAGE: " + msg + "\nport: 8080\n"
	}
	src.Write("apps/"+app+"/web.yaml", web("one")).Push("one")
	const token = "ui-token-canary"
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	ag := startAgent(t, "--repo", src.URL, "--state-dir", t.TempDir(), "--agent-name", name, "--schedule", "@every 1h",
		"--router", "none", "--status-branch", "", "--api-token-file", tokenFile)
	base := "http://" + ag.addr
	pageHas := func(sel, text string) chromedp.Action[chromedp.Void] {
		expr := `!!document.querySelector(` + quote(sel) + `)?.textContent.includes(` + quote(text) + `)`
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
	}

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token"))), ag.stderr.String())
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, base+"/login", loc, "the UI sends a visitor without a session to the login form")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#failed")),
	))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#workloads tr")),
		pageHas("#workloads", app+"/web"),
		pageHas("#workloads", "running"),
		chromedp.Click(chromedp.CSS("#workloads tr")),
		pageHas("#events", "deploy.succeeded"),
	), ag.stderr.String())

	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	require.NoError(t, err)
	require.Len(t, cookies.Cookies, 1)
	c := cookies.Cookies[0]
	assert.Equal(t, "berth_session", c.Name)
	assert.True(t, c.HTTPOnly)
	assert.Equal(t, network.CookieSameSiteStrict, c.SameSite)
	assert.NotContains(t, c.Value, token)

	// A deploy started elsewhere arrives in the open page through SSE.
	src.Write("apps/"+app+"/web.yaml", web("two")).Push("two")
	req, err := http.NewRequest(http.MethodPost, base+"/api/sync", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.NoError(t, chromedp.Do(ctx, pageHas("#events", "deploy.started")), ag.stderr.String())
	// The second deploy finishes before the test ends: no container is left behind.
	twice := `[...document.querySelectorAll("#events tr")].filter(r => r.textContent.includes("deploy.succeeded")).length >= 2`
	require.NoError(t, chromedp.Do(ctx, chromedp.Poll[chromedp.Void](twice, chromedp.WithPollingTimeout(60*time.Second))), ag.stderr.String())

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logout button")), chromedp.WaitVisible(chromedp.CSS("#token"))))
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/api/workloads").then(r => r.status)`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, status, "the session ended with the logout")
	assert.NotContains(t, ag.stderr.String(), token, "the token never reaches the log")
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
