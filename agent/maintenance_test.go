package agent_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/testkit/agenttest"
)

// answers counts what a proxy answered under load: the app (200), the
// maintenance page (503 with Retry-After and the page), anything else.
type answers struct {
	app, page, other atomic.Int64
	firstOther       atomic.Value
	stop             chan struct{}
	wg               sync.WaitGroup
}

func loadAnswers(proxy, host, lang, page string) *answers {
	a := &answers{stop: make(chan struct{})}
	for range 4 {
		a.wg.Go(func() {
			c := &http.Client{Timeout: 5 * time.Second} // keep-alive connections across the switches
			for range 1_000_000 {                       // bounded
				select {
				case <-a.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, "http://"+proxy+"/", nil)
				req.Host = host
				req.Header.Set("Accept-Language", lang)
				resp, err := c.Do(req)
				if err != nil {
					a.other.Add(1)
					a.firstOther.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 200:
					a.app.Add(1)
				case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" && strings.Contains(string(b), page):
					a.page.Add(1)
				default:
					a.other.Add(1)
					a.firstOther.CompareAndSwap(nil, resp.Status+": "+string(b))
				}
			}
		})
	}
	return a
}

func (a *answers) finish() { close(a.stop); a.wg.Wait() }

// Maintenance on and off under load: while on, only the page (503,
// Retry-After) — in the visitor's language by default, or the repo's
// page; off, the app again; no request fails across the switches, and
// the app's container is never touched.
func TestMaintenanceOnAndOffUnderLoad(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	h.Workload("web", agenttest.Routed(h.Image, host, "the app", "blue-green"))
	a, st := h.Start("web", agent.Options{Router: rt})
	ctx := context.Background()
	wid := h.ID("web")
	container := agenttest.Rows(t, st)[wid].ContainerID

	l := loadAnswers(proxy, host, "ru-RU,ru;q=0.9", "Технические работы")
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, a.SetMaintenance(ctx, wid, true))
	time.Sleep(500 * time.Millisecond)
	pageBefore := l.page.Load()
	time.Sleep(300 * time.Millisecond)
	appWhileOn := l.app.Load()
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, appWhileOn, l.app.Load(), "while on, no request reaches the app")
	assert.Greater(t, l.page.Load(), pageBefore)
	require.NoError(t, a.SetMaintenance(ctx, wid, false))
	time.Sleep(500 * time.Millisecond)
	l.finish()
	assert.Zero(t, l.other.Load(), "failed or unexpected answers (first: %v)", l.firstOther.Load())
	assert.Greater(t, l.app.Load(), appWhileOn, "off: the app serves again")
	assert.Equal(t, container, agenttest.Rows(t, st)[wid].ContainerID, "the app was not touched")

	// The override survives a restart of the agent; git's own page wins
	// over the default one.
	require.NoError(t, a.SetMaintenance(ctx, wid, true))
	b, _ := h.Agent(agent.Options{Router: rt})
	assert.Equal(t, []string{wid}, b.Maintenance(ctx))
	h.Repo.Write("apps/"+h.App+"/down.html", "<h1>Back at noon</h1>\n")
	h.Workload("web", strings.Replace(agenttest.Routed(h.Image, host, "the app", "blue-green"), "route:\n", "route:\n  maintenance_page: down.html\n", 1))
	h.Repo.Push("a maintenance page")
	_, err := b.Tick(ctx)
	require.NoError(t, err)
	l = loadAnswers(proxy, host, "en", "Back at noon")
	time.Sleep(300 * time.Millisecond)
	l.finish()
	assert.Zero(t, l.other.Load(), "first: %v", l.firstOther.Load())
	assert.Zero(t, l.app.Load())
	assert.Positive(t, l.page.Load())

	// route.maintenance: true in git holds the page with the override off,
	// and redeploys nothing.
	h.Workload("web", strings.Replace(agenttest.Routed(h.Image, host, "the app", "blue-green"), "route:\n", "route:\n  maintenance: true\n", 1))
	h.Repo.Push("maintenance from git")
	res, err := b.Tick(ctx)
	require.NoError(t, err)
	assert.Empty(t, res.Deployed, "route.maintenance is not hashed")
	require.NoError(t, b.SetMaintenance(ctx, wid, false))
	l = loadAnswers(proxy, host, "de", "Down for maintenance")
	time.Sleep(300 * time.Millisecond)
	l.finish()
	assert.Zero(t, l.other.Load(), "first: %v", l.firstOther.Load())
	assert.Zero(t, l.app.Load())

	require.ErrorIs(t, b.SetMaintenance(ctx, h.App+"/nope", true), agent.ErrUnknownWorkload)
}
