package main_test

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/browsertest"
)

// A job's runs on its page, in English and Russian, started by `berth
// run`; a shared secret the job prints is redacted in the kept output and
// appears on no page, in no API answer, no event and no log line.
func TestJobRunsInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	w := newCLIWorld(t)
	const canary = "CANARY-4e8a91-job-secret"
	key := filepath.Join(t.TempDir(), "key.txt")
	r := run(t, nil, "secrets", "keygen", "--out", key)
	require.Equal(t, 0, r.code, r.stderr)
	w.src.Write("berth.yaml", "secrets:\n  recipients: ["+strings.TrimSpace(r.stdout)+"]\n")
	w.src.Write("apps/"+w.app+"/cleanup.yaml", "source:\n  type: image\n  image: "+w.img+
		"\njob:\n  schedule: \"@yearly\"\n  command: [task, \"0\", \"0\", API_TOKEN]\n")
	set := exec.Command(agenttest.Berth(t), "secrets", "set", "API_TOKEN", "--app", w.app, "--dir", w.src.Dir)
	set.Stdin = strings.NewReader(canary)
	out, err := set.CombinedOutput()
	require.NoError(t, err, "%s", out)
	w.src.Push("a job with a secret")
	ag := startAgent(t, "--repo", w.src.URL, "--state-dir", t.TempDir(), "--agent-name", w.name, "--schedule", "@every 1h",
		"--router", "none", "--status-branch", "", "--identity", key)
	env := []string{"BERTH_AGENT=http://" + ag.addr}
	id := w.app + "/cleanup"
	require.Eventually(t, func() bool { return run(t, env, "run", id).code == 0 }, 30*time.Second, 300*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(run(t, env, "jobs", id, "--json").stdout, `"trigger": "operator"`)
	}, 30*time.Second, 300*time.Millisecond)
	r = run(t, env, "jobs", id, "--json")
	assert.Contains(t, r.stdout, "API_TOKEN=")
	assert.NotContains(t, r.stdout, canary, "the kept output is redacted")

	base := "http://" + ag.addr
	pageHas := func(sel, text string) chromedp.Action[chromedp.Void] {
		expr := `!!document.querySelector(` + quote(sel) + `)?.textContent.includes(` + quote(text) + `)`
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/w/"+id),
		pageHas("#runsection", "Runs"),
		pageHas("#runs", "operator"),
		pageHas("#runs", "API_TOKEN="),
	), ag.stderr.String())
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	assert.NotContains(t, body, canary)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/w/"+id+"?lang=ru"),
		pageHas("#runsection", "Запуски"),
		pageHas("#runs", "оператор"),
		pageHas("#runs", "задание"),
	), ag.stderr.String())
	english, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("runsection").innerText.match(/Runs|Trigger|Last output|operator|job/g) || []).join(",")`))
	require.NoError(t, err)
	assert.Empty(t, english, "no English string in the Russian runs (event messages are the agent's own, in English)")

	for _, path := range []string{"/api/events?workload=" + id, "/api/runs", "/api/workloads"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.NotContains(t, string(b), canary, path)
	}
	assert.NotContains(t, ag.stderr.String(), canary, "the log")
}
