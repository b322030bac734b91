package main_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/browsertest"
)

// The workload page in a real browser: live log lines arrive in the log
// panel, pause holds them, the removed containers' output shows on
// demand, the container's resources show; on the list, "Sync now" runs a
// sync; and `berth logs` prints the same lines.
func TestLogsResourcesAndSyncInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	w := newCLIWorld(t)
	const canary = "CANARY-7d1c-logs-in-browser"
	key := filepath.Join(t.TempDir(), "key.txt")
	r := run(t, nil, "secrets", "keygen", "--out", key)
	require.Equal(t, 0, r.code, r.stderr)
	w.src.Write("berth.yaml", "secrets:\n  recipients: ["+strings.TrimSpace(r.stdout)+"]\n")
	w.src.Write("apps/"+w.app+"/web.yaml", "source:\n  type: image\n  image: "+w.img+
		"\n  deploy_strategy: recreate\nenv:\n  MESSAGE: hello-panel\n  LOG_EVERY: 100ms\n  PRINT_ENV: API_TOKEN\nport: 8080\nresources: {memory: 48Mi}\n")
	set := exec.Command(agenttest.Berth(t), "secrets", "set", "API_TOKEN", "--app", w.app, "--dir", w.src.Dir)
	set.Stdin = strings.NewReader(canary)
	out, err := set.CombinedOutput()
	require.NoError(t, err, "%s", out)
	w.src.Push("a chatty web")
	ag := startAgent(t, "--repo", w.src.URL, "--state-dir", t.TempDir(), "--agent-name", w.name, "--schedule", "@every 1h",
		"--router", "none", "--status-branch", "", "--stats-interval", "1s", "--identity", key)
	env := []string{"BERTH_AGENT=http://" + ag.addr}
	id := w.app + "/web"
	require.Eventually(t, func() bool {
		return strings.Contains(run(t, env, "logs", id, "--tail", "3").stdout, "hello-panel line")
	}, 30*time.Second, 300*time.Millisecond, "berth logs prints the app's lines")
	printed := run(t, env, "logs", id).stdout
	require.Contains(t, printed, "API_TOKEN=")
	require.NotContains(t, printed, canary, "berth logs redacts shared secrets")

	base := "http://" + ag.addr
	pageHas := func(sel, text string) chromedp.Action[chromedp.Void] {
		expr := `!!document.querySelector(` + quote(sel) + `)?.textContent.includes(` + quote(text) + `)`
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
	}
	// The first render needs no fetch: when the page has loaded, its facts
	// and releases are there (a plain headless screenshot shows them).
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/w/"+id)))
	first, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("facts").children.length > 0 && document.getElementById("releases").children.length > 0 && document.getElementById("events").children.length > 0`))
	require.NoError(t, err)
	require.True(t, first, "the workload page renders from the page itself")
	lines := `document.getElementById("logs").textContent.split("\n").filter(l => l.includes("hello-panel line")).length`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/w/"+id),
		pageHas("#logs", "hello-panel line"),
		pageHas("#usage", "48.0 MiB"),
		pageHas("#logstate", "following"),
	), ag.stderr.String())
	logout, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("logout").hidden`))
	require.NoError(t, err)
	require.True(t, logout, "no Log out without a token")
	require.NoError(t, chromedp.Do(ctx, pageHas("#logs", "API_TOKEN=")))
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	require.NotContains(t, text, canary, "the log panel redacts shared secrets")
	n1, err := chromedp.Run(ctx, chromedp.Evaluate[int](lines))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Poll[chromedp.Void](lines+` > `+itoa(n1+3), chromedp.WithPollingTimeout(20*time.Second))),
		"new lines keep arriving")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logpause")), pageHas("#logstate", "paused")))
	held, err := chromedp.Run(ctx, chromedp.Evaluate[int](lines))
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	still, err := chromedp.Run(ctx, chromedp.Evaluate[int](lines))
	require.NoError(t, err)
	require.Equal(t, held, still, "paused: the panel does not move")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		pageHas("#workloads", "MiB"),
		chromedp.Click(chromedp.CSS("#syncnow")),
		pageHas("#syncresult", "Sync started"),
		chromedp.Navigate(base+"/?lang=ru"),
		pageHas("#syncnow", "Синхронизировать"),
		pageHas("thead", "Сервис"),
	), ag.stderr.String())
}

func itoa(n int) string { return strconv.Itoa(n) }
