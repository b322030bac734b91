package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/browsertest"
	"github.com/berthops/berth/testkit/dockertest"
)

// TestFleetViewInBrowser: an agent serves the status branch's fleet at
// /api/fleet and the UI's /fleet page shows every agent and the state of
// each workload on each, in English and in Russian.
func TestFleetViewInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	w := newCLIWorld(t)
	nameB := dockertest.AgentName(t)
	spec := func(role string) string {
		return "source:\n  type: image\n  image: " + w.img + "\nport: 8080\nplacement:\n  labels: {role: " + role + "}\n"
	}
	w.src.Write("apps/"+w.app+"/web.yaml", spec("web"))
	w.src.Write("apps/"+w.app+"/db.yaml", spec("db"))
	w.src.Push("web and db")
	r := run(t, []string{"BERTH_AGENT_LABELS=role=db"}, "sync", "--repo", w.src.URL, "--state-dir", t.TempDir(), "--agent-name", nameB, "--router", "none")
	require.Equal(t, 0, r.code, r.stderr)
	ag := startAgent(t, "--repo", w.src.URL, "--state-dir", t.TempDir(), "--agent-name", w.name, "--agent-labels", "role=web",
		"--schedule", "@every 1h", "--router", "none")
	base := "http://" + ag.addr

	var f gitops.Fleet
	for range 60 { // bounded: the agent's first tick pushes its status
		resp, err := http.Get(base + "/api/fleet")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&f))
		resp.Body.Close()
		if len(f.Agents) == 2 {
			break
		}
		time.Sleep(time.Second)
	}
	require.Len(t, f.Agents, 2, ag.stderr.String())
	assert.Equal(t, []string{w.app + "/db", w.app + "/web"}, f.Workloads)

	pageHas := func(sel, text string) chromedp.Action[chromedp.Void] {
		expr := `!!document.querySelector(` + quote(sel) + `)?.textContent.includes(` + quote(text) + `)`
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
	}
	cell := func(workload string, col int) string {
		return `[...document.querySelectorAll("#matrix tr")].find(r => r.children[0].textContent === ` + quote(workload) + `)?.children[` + string(rune('0'+col)) + `]?.textContent`
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/fleet"),
		pageHas("#agents", w.name),
		pageHas("#agents", nameB),
		pageHas("#agents", "role=db"),
		pageHas("#fleetinfo", "2 agent(s)"),
	); err != nil {
		t.Fatalf("%v; the page says:\n%s", err, pageText(ctx))
	}
	// Agents are sorted by name; the columns follow them.
	first, second := 1, 2
	if nameB < w.name {
		first, second = 2, 1
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[`+cell(w.app+"/web", first)+`, `+cell(w.app+"/web", second)+`, `+
		cell(w.app+"/db", first)+`, `+cell(w.app+"/db", second)+`]`))
	require.NoError(t, err)
	assert.Equal(t, []string{"running", "—", "—", "running"}, got, "web runs on its agent only, db on the other")
	screenshot(t, ctx, "ui-fleet-en.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/fleet?lang=ru"),
		pageHas("#fleet thead", "Агент"),
		pageHas("#agents", "на связи"),
		pageHas("#matrix", "работает"),
	))
	english, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`/Agent|Labels|Last report|Workload|running|reporting/.test(document.body.innerText)`))
	require.NoError(t, err)
	assert.False(t, english, "no English string on the Russian page")
}

// pageText is the page's text, for a failure message.
func pageText(ctx context.Context) string {
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return err.Error()
	}
	return text
}
